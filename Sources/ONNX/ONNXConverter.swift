import Foundation
import ModelIO
import NN
import Tensor

/// Maps one ONNX graph onto `LayerSpec`s and state-dict weights.
///
/// Every tensor name is either an activation (a spec layer's output, with its per-sample shape)
/// or a constant (`ONNXTensor`). Nodes whose inputs are all constants are evaluated at import
/// (ONNXConverter+Folding.swift); the others become layers (ONNXConverter+Ops.swift). Shapes
/// are tracked by adding each layer to a `Graph` as it is made, so a wrong shape is caught at
/// the node that made it.
final class ONNXConverter {
    enum Value {
        /// A layer's output (`input` for the model input) and its per-sample shape.
        case act(String, [Int])
        case const(ONNXTensor)
        /// A reshape or transpose of a layer's output with no engine layout of its own,
        /// resolved by the node that reads it (ONNXConverter+Views.swift): the `[g, C/g, H, W]`
        /// channel groups and their transpose (channel shuffle).
        case view(View, String, [Int])
    }

    enum View: Equatable {
        case grouped(Int)
        case shuffled(Int)
    }

    struct Result {
        var inputShape: [Int]
        var classes: Int
        var output: String?
        var softmaxSplitOff: Bool
        /// The file's input is channels-last (`[N, H, W, C]`, read through a Transpose to NCHW, as
        /// tf2onnx writes Keras models): data for it is stored NHWC.
        var channelsLast = false
    }

    let file: String
    let opset: Int
    let reader: ONNXTensorReader
    private(set) var layers: [LayerSpec] = []
    private(set) var weights: [(key: String, array: NumpyArray)] = []
    var conversions: [String] = []
    var values: [String: Value] = [:]
    /// How many nodes read each tensor (MatMul + Add fuse only when the Add is the sole reader).
    var readers: [String: Int] = [:]
    /// MatMul outputs whose Linear still has a zero bias: output name → (layer, features).
    var pendingBias: [String: (String, Int)] = [:]
    /// GatherND nodes fused with their Transposes and ReduceMean into an adaptive average pool,
    /// by output name (ONNXConverter+GatherPool.swift); any other GatherND is unsupported.
    var gatherPools: [String: GatherPool] = [:]
    /// The nodes reading each tensor, and the graph's output (for look-ahead: ONNXConverter+FlattenOrder.swift).
    var consumers: [String: [Onnx_NodeProto]] = [:]
    var graphOutput = ""
    /// Flatten outputs in (c, h, w) order standing for a channels-last flatten of `[C, H, W]`:
    /// the Linears reading them take their weight columns permuted (ONNXConverter+FlattenOrder.swift).
    var channelsLastFlat: [String: [Int]] = [:]
    private var shapes: Graph!
    private var graphIndex: [String: Int] = [:]
    private var usedNames: Set<String> = ["input"]
    private var conversionKinds: Set<String> = []

    init(file: String, folder: URL, opset: Int) {
        self.file = file
        self.opset = opset
        self.reader = ONNXTensorReader(file: file, folder: folder)
    }

    func convert(_ g: Onnx_GraphProto, inputShape given: [Int]?) throws -> Result {
        for t in g.initializer { values[t.name] = .const(try reader.read(t, what: "initializer")) }
        let inputs = g.input.filter { values[$0.name] == nil }
        guard inputs.count == 1 else {
            throw ModelIOError(.unsupported, file: file, location: "graph inputs",
                               "the model has \(inputs.count) inputs (\(inputs.map(\.name).joined(separator: ", "))); exactly one is supported")
        }
        guard g.output.count == 1 else {
            throw ModelIOError(.unsupported, file: file, location: "graph outputs",
                               "the model has \(g.output.count) outputs (\(g.output.map(\.name).joined(separator: ", "))); exactly one (the logits or probabilities) is supported")
        }
        // A channels-last input read through a Transpose to NCHW (tf2onnx's Keras models,
        // ONNXConverter+ChannelsLast.swift): the engine takes the transposed tensor as its input,
        // and the data layout is NHWC.
        let entry = try channelsLastEntry(g.node, input: inputs[0].name)
        let inputShape = try sampleShape(inputs[0], given: given, channelsLast: entry != nil)
        shapes = Graph(inputShape: inputShape)
        values[inputs[0].name] = .act("input", inputShape)
        let graphNodes = entry?.nodes ?? g.node
        if let entry {
            note("nhwc-input", "channels-last input [N, H, W, C] transposed to NCHW by its first node → the engine's NCHW input; data is read as NHWC")
            if entry.chain > 0 {
                note("nhwc-chain", "Mul/Add/Sub/Div by scalars or per-channel [..., C] constants before the input's Transpose to NCHW (Keras Rescaling/Normalization) → applied after it, constants as [C, 1, 1]")
            }
        }

        let nodes = try fuseGatherPool(try fuseChannelLayerNorm(try fuseGeluTanh(try fuseGelu(try ordered(graphNodes)))))
        try refuseUnsupported(nodes)
        for n in nodes { for i in Set(n.input) where !i.isEmpty { consumers[i, default: []].append(n) } }
        for n in nodes { for i in n.input where !i.isEmpty { readers[i, default: 0] += 1 } }
        graphOutput = g.output[0].name

        // A final Softmax over the class axis is split off: the graph gives logits.
        var body = nodes[...]
        var softmaxSplitOff = false
        if let last = nodes.last, last.opType == "Softmax", last.output.first == g.output[0].name {
            body = nodes.dropLast()
            softmaxSplitOff = true
        }
        for n in body { try convertNode(n) }

        let outName = softmaxSplitOff ? nodes.last!.input[0] : g.output[0].name
        guard case let .act(layer, shape)? = values[outName] else {
            throw ModelIOError(.unsupported, file: file, location: "output '\(outName)'", "the output is a constant, not computed from the input")
        }
        if softmaxSplitOff {
            let axis = try attrInt(nodes.last!, "axis", default: -1)
            guard shape.count == 1, axis == 1 || axis == -1 else {
                throw ModelIOError(.unsupported, file: file, location: "node '\(nodes.last!.name)' (Softmax)",
                                   "a final softmax over axis \(axis) of per-sample shape \(shape); only [classes] logits with axis 1 or -1 are supported")
            }
            conversions.append("final Softmax split off: the model gives logits, probabilities are softmax(logits)")
        }
        guard shape.count == 1, layer != "input" else {
            throw ModelIOError(.unsupported, file: file, location: "output '\(outName)'",
                               "the output has per-sample shape \(shape); a classifier giving [classes] logits is expected")
        }
        return Result(inputShape: inputShape, classes: shape[0], output: layer == layers.last?.name ? nil : layer,
                      softmaxSplitOff: softmaxSplitOff, channelsLast: entry != nil)
    }

    /// The per-sample input shape: the declared dims after the batch axis, or `--input-shape`
    /// where they are symbolic.
    private func sampleShape(_ v: Onnx_ValueInfoProto, given: [Int]?, channelsLast: Bool = false) throws -> [Int] {
        let loc = "input '\(v.name)'"
        guard case let .tensorType(t)? = v.type.value else {
            throw ModelIOError(.unsupported, file: file, location: loc, "the input is not a tensor")
        }
        guard t.elemType == 1 else {
            throw ModelIOError(.unsupported, file: file, location: loc,
                               "input element type \(ONNXTensorReader.typeNames[t.elemType] ?? "#\(t.elemType)"); float32 is supported")
        }
        var declared: [Int?] = []
        if t.hasShape {
            for d in t.shape.dim {
                if case let .dimValue(x)? = d.value, x > 0 { declared.append(Int(x)) } else { declared.append(nil) }
            }
        }
        var sample = declared.isEmpty ? [] : Array(declared.dropFirst())
        // [H, W, C] → the engine's [C, H, W]; --input-shape is always given as C,H,W.
        if channelsLast, sample.count == 3 { sample = [sample[2], sample[0], sample[1]] }
        if let given {
            guard given.allSatisfy({ $0 > 0 }), declared.isEmpty || given.count == sample.count else {
                throw ModelIOError(.mismatch, file: file, location: loc,
                                   "--input-shape \(given.map(String.init).joined(separator: ",")) does not fit the declared input \(describe(declared)) (batch first)")
            }
            for (a, b) in zip(sample, given) where a != nil && a != b {
                throw ModelIOError(.mismatch, file: file, location: loc,
                                   "--input-shape \(given.map(String.init).joined(separator: ",")) disagrees with the declared input \(describe(declared))")
            }
            return given
        }
        guard !sample.isEmpty, sample.allSatisfy({ $0 != nil }) else {
            throw ModelIOError(.mismatch, file: file, location: loc,
                               "the input shape \(describe(declared)) has symbolic or missing per-sample dimensions; give them with --input-shape C,H,W")
        }
        return sample.map { $0! }
    }

    private func describe(_ dims: [Int?]) -> String {
        dims.isEmpty ? "(none)" : "[" + dims.map { $0.map(String.init) ?? "?" }.joined(separator: ", ") + "]"
    }

    /// The nodes in an order where every input is defined first (Kahn's algorithm); a cycle or
    /// a name nothing defines is an error naming the nodes.
    private func ordered(_ nodes: [Onnx_NodeProto]) throws -> [Onnx_NodeProto] {
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for o in n.output where !o.isEmpty {
                guard producer[o] == nil, values[o] == nil else {
                    throw ModelIOError(.malformed, file: file, location: "node '\(label(n))'", "tensor '\(o)' is defined twice")
                }
                producer[o] = i
            }
        }
        var waiting = [Int](repeating: 0, count: nodes.count)
        var dependents = [[Int]](repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() {
            for name in n.input where !name.isEmpty && values[name] == nil {
                guard let p = producer[name] else {
                    throw ModelIOError(.malformed, file: file, location: "node '\(label(n))' (\(n.opType))",
                                       "input '\(name)' is neither an initializer, the graph input nor any node's output (a missing initializer?)")
                }
                waiting[i] += 1
                dependents[p].append(i)
            }
        }
        var ready = (0..<nodes.count).filter { waiting[$0] == 0 }
        var out: [Onnx_NodeProto] = []
        while !ready.isEmpty {
            let i = ready.removeFirst()
            out.append(nodes[i])
            for d in dependents[i] { waiting[d] -= 1; if waiting[d] == 0 { ready.append(d) } }
        }
        guard out.count == nodes.count else {
            let stuck = (0..<nodes.count).filter { waiting[$0] > 0 }.map { "'\(label(nodes[$0]))'" }
            throw ModelIOError(.malformed, file: file, location: "graph",
                               "the graph has a cycle: nodes \(stuck.joined(separator: ", ")) depend on each other")
        }
        return out
    }

    func label(_ n: Onnx_NodeProto) -> String { n.name.isEmpty ? (n.output.first ?? n.opType) : n.name }

    /// One error naming every node whose operator is not mapped.
    private func refuseUnsupported(_ nodes: [Onnx_NodeProto]) throws {
        let bad = nodes.filter { n in
            !(n.domain.isEmpty || n.domain == "ai.onnx")
                || !(Self.supportedOps.contains(n.opType) || (n.opType == "GatherND" && n.output.count == 1 && gatherPools[n.output[0]] != nil))
        }
        guard !bad.isEmpty else { return }
        let list = bad.map { "'\(label($0))' (\($0.domain.isEmpty ? "" : $0.domain + ".")\($0.opType))" }
        throw ModelIOError(.unsupported, file: file,
                           "\(bad.count) unsupported node\(bad.count == 1 ? "" : "s"): \(list.joined(separator: ", ")); supported operators: \(Self.supportedOps.sorted().joined(separator: ", "))")
    }

    /// Adds a layer reading the activations `inputs`; returns its name and per-sample shape.
    @discardableResult
    func addLayer(_ spec: LayerSpec, node: Onnx_NodeProto, inputs: [String], output: String? = nil) throws -> (String, [Int]) {
        var ls = spec
        ls.name = uniqueName(ls.name)
        ls.inputs = inputs
        let sources: [Graph.Source] = inputs.map { $0 == "input" ? .input : .node(graphIndex[$0]!) }
        do {
            graphIndex[ls.name] = try shapes.add(ls.name, try GraphBuilder.makeLayer(ls, origin: file), inputs: sources)
        } catch let e as NNError {
            throw ModelIOError(.mismatch, file: file, location: "node '\(label(node))' (\(node.opType))", "\(e)")
        }
        layers.append(ls)
        let shape = shapes.nodes[graphIndex[ls.name]!].outputShape
        if let output { values[output] = .act(ls.name, shape) }
        return (ls.name, shape)
    }

    func shapeOf(_ layer: String) -> [Int] { shapes.nodes[graphIndex[layer]!].outputShape }

    func addWeight(_ layer: String, _ param: String, _ values: [Float], shape: [Int]) {
        weights.append((key: layer + "." + param, array: NumpyArray(float32s: values, shape: shape)))
    }

    /// Replaces the weight `layer.param` (MatMul + Add folding the bias in).
    func setWeight(_ layer: String, _ param: String, _ values: [Float]) {
        guard let i = weights.firstIndex(where: { $0.key == layer + "." + param }) else { return }
        weights[i].array = NumpyArray(float32s: values, shape: weights[i].array.shape)
    }

    /// Records a conversion once per kind (for `bss inspect`).
    func note(_ kind: String, _ text: String) {
        guard conversionKinds.insert(kind).inserted else { return }
        conversions.append(text)
    }

    /// A layer name from the node's weight (`conv1.weight` → `conv1`), else from the node name.
    func layerName(_ n: Onnx_NodeProto, weight: String? = nil) -> String {
        if let w = weight, w.hasSuffix(".weight"), !w.contains("::") { return String(w.dropLast(".weight".count)) }
        var s = n.name.split(separator: "/").filter { !$0.isEmpty }.joined(separator: ".")
        if s.isEmpty { s = n.opType.lowercased() }
        return s
    }

    private func uniqueName(_ base: String) -> String {
        var name = base, k = 1
        while usedNames.contains(name) { k += 1; name = "\(base)_\(k)" }
        usedNames.insert(name)
        return name
    }
}
