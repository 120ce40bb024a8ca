import Foundation

/// A model architecture as data: what `--arch SPEC` reads (JSON; schema in
/// `Schemas/architecture.schema.json`, described in `docs/architecture-spec.md`) and what
/// presets expand to. One path builds every graph: spec → `GraphBuilder` → `Graph`.
public struct ArchitectureSpec: Codable, Equatable, Sendable {
    public var format: String = "bss-architecture"
    public var version: Int = 1
    public var name: String
    /// Per-sample input shape in the engine's layout: `[C, H, W]` or `[features]`.
    public var inputShape: [Int]
    public var classes: Int
    public var layers: [LayerSpec]
    /// Name of the layer whose output is the logits; the last layer when nil.
    public var output: String?
    /// How the model's own framework stores input images (`nchw` for PyTorch, `nhwc` for a
    /// model that came from Keras); data is read in this layout unless `--data-layout` says
    /// otherwise. `input_shape` is always in the engine's layout.
    public var inputLayout: String?

    enum CodingKeys: String, CodingKey {
        case format, version, name, inputShape = "input_shape", classes, layers, output, inputLayout = "input_layout"
    }

    public init(name: String, inputShape: [Int], classes: Int, layers: [LayerSpec], output: String? = nil) {
        self.name = name; self.inputShape = inputShape; self.classes = classes
        self.layers = layers; self.output = output
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decodeIfPresent(String.self, forKey: .format) ?? "bss-architecture"
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? "model"
        inputShape = try c.decode([Int].self, forKey: .inputShape)
        classes = try c.decode(Int.self, forKey: .classes)
        layers = try c.decode([LayerSpec].self, forKey: .layers)
        output = try c.decodeIfPresent(String.self, forKey: .output)
        inputLayout = try c.decodeIfPresent(String.self, forKey: .inputLayout)
    }

    /// Reads and validates a JSON spec file; errors name the file, the offending layer and field.
    public static func load(_ url: URL) throws -> ArchitectureSpec {
        let data = try FileBytes.read(url)
        do {
            try JSONInput.validate(data, file: url.path)
            // Validate the text first (SpecValidator.swift): unknown fields, wrong types and
            // out-of-range values are errors, never ignored or left to a precondition.
            try SpecValidator.validate(json: try JSONDecoder().decode(JSONValue.self, from: data), origin: url.path)
            let spec = try JSONDecoder().decode(ArchitectureSpec.self, from: data)
            guard spec.format == "bss-architecture" else {
                throw ModelIOError(.malformed, file: url.path, location: "format",
                                   "expected \"bss-architecture\", found \"\(spec.format)\"")
            }
            return spec
        } catch let e as ModelIOError {
            throw e
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw ModelIOError(.malformed, file: url.path, location: path(ctx.codingPath),
                               "missing field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ModelIOError(.malformed, file: url.path, location: path(ctx.codingPath), ctx.debugDescription)
        } catch let DecodingError.dataCorrupted(ctx) {
            throw ModelIOError(.malformed, file: url.path, location: path(ctx.codingPath),
                               ctx.codingPath.isEmpty ? "not valid JSON" : ctx.debugDescription)
        } catch {
            throw ModelIOError(.malformed, file: url.path, "\(error)")
        }
    }

    /// JSON text (pretty, stable key order) for writing next to exports.
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }

    static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
            .trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
}

/// One layer of an `ArchitectureSpec`. Fields not used by a type are nil.
public struct LayerSpec: Codable, Equatable, Sendable {
    public var name: String
    public var type: String
    public var inputs: [String]?
    public var inFeatures: Int?
    public var outFeatures: Int?
    public var inChannels: Int?
    public var outChannels: Int?
    public var channels: Int?
    public var kernel: [Int]?
    public var stride: [Int]?
    /// `[top, bottom, left, right]`.
    public var padding: [Int]?
    /// `conv2d`: `[h, w]` distance between kernel taps (default 1).
    public var dilation: [Int]?
    /// `conv2d`: channel groups (default 1); `channel_shuffle`: the groups shuffled.
    public var groups: Int?
    public var bias: Bool?
    public var eps: Float?
    public var momentum: Float?
    public var countIncludePad: Bool?
    /// Pooling: output size rounds up (PyTorch's `ceil_mode`).
    public var ceilMode: Bool?
    /// `adaptive_avgpool2d`: `[h, w]` output size.
    public var outputSize: [Int]?
    /// `slice`: the channels `[start, end)` taken.
    public var start: Int?
    public var end: Int?
    /// `flatten`: "nchw" (the default) or, in spec files from before the engine had one
    /// layout, "nhwc" (built as `permute` [1, 2, 0] + `flatten`; docs/architecture-spec.md).
    public var order: String?
    /// `permute`: output sample axis `i` is input sample axis `dims[i]` (the batch axis stays first).
    public var dims: [Int]?
    public var p: Float?
    public var shape: [Int]?
    /// `shortcut_a`: zero channels placed before the input's channels (the rest go after).
    public var padBefore: Int?
    /// State-dict key overrides: parameter name → key.
    public var keys: [String: String]?
    // Activation constants (docs/architecture-spec.md): leaky_relu/relu_keras `negative_slope`,
    // elu `alpha`, gelu `approximate` ("none" or "tanh"), relu_keras `max_value` and `threshold`.
    public var negativeSlope: Float?
    public var alpha: Float?
    public var approximate: String?
    public var maxValue: Float?
    public var threshold: Float?
    // Keras-derived layers: rescaling `scale`/`offset` (one value or one per channel),
    // upsample2d `scale_factor` ([h, w]) and `mode` ("nearest" or "bilinear").
    public var scale: [Float]?
    public var offset: [Float]?
    public var scaleFactor: [Int]?
    public var mode: String?

    enum CodingKeys: String, CodingKey {
        case name, type, inputs, inFeatures = "in_features", outFeatures = "out_features",
             inChannels = "in_channels", outChannels = "out_channels", channels, kernel, stride,
             padding, dilation, groups, bias, eps, momentum, countIncludePad = "count_include_pad", ceilMode = "ceil_mode",
             outputSize = "output_size", start, end, order, dims, p, shape, keys,
             padBefore = "pad_before"
        case negativeSlope = "negative_slope", alpha, approximate, maxValue = "max_value", threshold
        case scale, offset, scaleFactor = "scale_factor", mode
    }

    public init(name: String, type: String, inputs: [String]? = nil) {
        self.name = name; self.type = type; self.inputs = inputs
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        type = try c.decode(String.self, forKey: .type)
        inputs = try c.decodeIfPresent([String].self, forKey: .inputs)
        inFeatures = try c.decodeIfPresent(Int.self, forKey: .inFeatures)
        outFeatures = try c.decodeIfPresent(Int.self, forKey: .outFeatures)
        inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels)
        outChannels = try c.decodeIfPresent(Int.self, forKey: .outChannels)
        channels = try c.decodeIfPresent(Int.self, forKey: .channels)
        kernel = try Self.pair(c, .kernel)
        stride = try Self.pair(c, .stride)
        if let one = try? c.decodeIfPresent(Int.self, forKey: .padding) {
            padding = [one, one, one, one]
        } else if let two = try c.decodeIfPresent([Int].self, forKey: .padding) {
            // [h, w] is symmetric padding as PyTorch gives it; 4 values are per side.
            padding = two.count == 2 ? [two[0], two[0], two[1], two[1]] : two
        }
        dilation = try Self.pair(c, .dilation)
        groups = try c.decodeIfPresent(Int.self, forKey: .groups)
        bias = try c.decodeIfPresent(Bool.self, forKey: .bias)
        eps = try c.decodeIfPresent(Float.self, forKey: .eps)
        momentum = try c.decodeIfPresent(Float.self, forKey: .momentum)
        countIncludePad = try c.decodeIfPresent(Bool.self, forKey: .countIncludePad)
        ceilMode = try c.decodeIfPresent(Bool.self, forKey: .ceilMode)
        outputSize = try Self.pair(c, .outputSize)
        start = try c.decodeIfPresent(Int.self, forKey: .start)
        end = try c.decodeIfPresent(Int.self, forKey: .end)
        order = try c.decodeIfPresent(String.self, forKey: .order)
        dims = try c.decodeIfPresent([Int].self, forKey: .dims)
        p = try c.decodeIfPresent(Float.self, forKey: .p)
        shape = try c.decodeIfPresent([Int].self, forKey: .shape)
        keys = try c.decodeIfPresent([String: String].self, forKey: .keys)
        padBefore = try c.decodeIfPresent(Int.self, forKey: .padBefore)
        negativeSlope = try c.decodeIfPresent(Float.self, forKey: .negativeSlope)
        alpha = try c.decodeIfPresent(Float.self, forKey: .alpha)
        approximate = try c.decodeIfPresent(String.self, forKey: .approximate)
        maxValue = try c.decodeIfPresent(Float.self, forKey: .maxValue)
        threshold = try c.decodeIfPresent(Float.self, forKey: .threshold)
        scale = try Self.numbers(c, .scale)
        offset = try Self.numbers(c, .offset)
        scaleFactor = try Self.pair(c, .scaleFactor)
        mode = try c.decodeIfPresent(String.self, forKey: .mode)
    }

    /// A number means one value for every channel.
    static func numbers(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> [Float]? {
        if let one = try? c.decodeIfPresent(Float.self, forKey: key) { return [one] }
        return try c.decodeIfPresent([Float].self, forKey: key)
    }

    /// An integer means the same value for height and width.
    static func pair(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> [Int]? {
        if let one = try? c.decodeIfPresent(Int.self, forKey: key) { return [one, one] }
        return try c.decodeIfPresent([Int].self, forKey: key)
    }
}
