/// The fields an architecture spec may contain, per layer type: the one table the validator
/// (`SpecValidator`) checks against and that `Schemas/architecture.schema.json` must list
/// exactly (a test compares the two). Described in docs/architecture-spec.md.
enum SpecFields {
    /// What values a field takes.
    enum Kind: Equatable {
        /// An integer ≥ 1.
        case positiveInt
        /// An integer ≥ 0.
        case nonNegativeInt
        /// An integer ≥ 1, or `[h, w]` of them.
        case pair
        /// An integer ≥ 0, `[h, w]` or `[top, bottom, left, right]`.
        case padding
        case bool
        /// A number > 0.
        case positiveNumber
        /// A finite number.
        case number
        /// A finite number ≥ 0.
        case nonNegativeNumber
        /// A finite number or a non-empty array of them (one per channel).
        case numbers
        /// A number in [0, 1].
        case unitInterval
        /// A number in [0, 1): a dropout probability.
        case probability
        /// One of these strings.
        case oneOf([String])
        /// A non-empty array of integers ≥ 1.
        case positiveInts
        /// A non-empty array of integers ≥ 1, one of which may be -1 (inferred), as `Reshape`.
        case reshapeShape
        /// A permutation of `0..<n`: each of 0, 1, …, n − 1 once (`permute`'s `dims`).
        case permutation
        /// A non-empty array of layer names (or `"input"`).
        case names
        /// An object mapping parameter names to state-dict keys.
        case keys
        /// A non-empty string.
        case string
        /// The non-empty array of layer objects (each checked against `fields(for:)`).
        case layers
        /// An option PyTorch has that we model only at this value (e.g. `dilation` 1): any
        /// other value is "not supported yet", never silently ignored. `neutral` lists the
        /// accepted JSON values, `meaning` says what they mean.
        case neutralOnly(neutral: [JSONValue], meaning: String)
    }

    struct Field {
        var name: String
        var kind: Kind
        var required = false
    }

    static let topLevel: [Field] = [
        Field(name: "format", kind: .oneOf(["bss-architecture"])),
        Field(name: "version", kind: .neutralOnly(neutral: [.int(1)], meaning: "version 1 of the format")),
        Field(name: "name", kind: .string),
        Field(name: "input_shape", kind: .positiveInts, required: true),
        Field(name: "classes", kind: .positiveInt, required: true),
        Field(name: "layers", kind: .layers, required: true),
        Field(name: "output", kind: .string),
        Field(name: "input_layout", kind: .oneOf(["nchw", "nhwc"])),
    ]

    /// Fields every layer may have.
    static let common: [Field] = [
        Field(name: "name", kind: .string, required: true),
        Field(name: "type", kind: .string, required: true),
        Field(name: "inputs", kind: .names),
    ]

    /// Parameter names of the layer types that have parameters (what `keys` may override).
    static let parameters: [String: [String]] = [
        "linear": ["weight", "bias"],
        "conv2d": ["weight", "bias"],
        "batchnorm": ["weight", "bias", "running_mean", "running_var"],
        "layernorm": ["weight", "bias"],
        "normalization": ["mean", "variance"],
    ]

    static let dilation = Field(name: "dilation", kind: .neutralOnly(neutral: [.int(1), .array([.int(1), .int(1)])],
                                                                    meaning: "1, no dilation"))
    static let ceilMode = Field(name: "ceil_mode", kind: .bool)

    /// Type-specific fields (besides `common`, and `keys` for types with parameters).
    static let byType: [String: [Field]] = [
        "linear": [Field(name: "in_features", kind: .positiveInt, required: true),
                   Field(name: "out_features", kind: .positiveInt, required: true),
                   Field(name: "bias", kind: .bool)],
        "conv2d": [Field(name: "in_channels", kind: .positiveInt, required: true),
                   Field(name: "out_channels", kind: .positiveInt, required: true),
                   Field(name: "kernel", kind: .pair, required: true),
                   Field(name: "stride", kind: .pair),
                   Field(name: "padding", kind: .padding),
                   Field(name: "bias", kind: .bool),
                   Field(name: "dilation", kind: .pair),
                   Field(name: "groups", kind: .positiveInt),
                   Field(name: "padding_mode", kind: .neutralOnly(neutral: [.string("zeros")], meaning: "\"zeros\""))],
        "batchnorm": [Field(name: "channels", kind: .positiveInt, required: true),
                      Field(name: "eps", kind: .positiveNumber),
                      Field(name: "momentum", kind: .unitInterval)],
        "relu": [], "sigmoid": [], "tanh": [], "softmax": [], "identity": [], "global_avgpool": [],
        "global_maxpool": [],
        "add": [Field(name: "inputs", kind: .names, required: true)],
        "concat": [Field(name: "inputs", kind: .names, required: true)],
        "multiply": [Field(name: "inputs", kind: .names, required: true)],
        "elementwise_add": [Field(name: "inputs", kind: .names, required: true)],
        "elementwise_sub": [Field(name: "inputs", kind: .names, required: true)],
        "elementwise_mul": [Field(name: "inputs", kind: .names, required: true)],
        "elementwise_div": [Field(name: "inputs", kind: .names, required: true)],
        "slice": [Field(name: "start", kind: .nonNegativeInt, required: true),
                  Field(name: "end", kind: .positiveInt, required: true)],
        "channel_shuffle": [Field(name: "groups", kind: .positiveInt, required: true)],
        "adaptive_avgpool2d": [Field(name: "output_size", kind: .pair, required: true)],
        "maxpool2d": [Field(name: "kernel", kind: .pair, required: true),
                      Field(name: "stride", kind: .pair),
                      Field(name: "padding", kind: .padding),
                      dilation, ceilMode],
        "avgpool2d": [Field(name: "kernel", kind: .pair, required: true),
                      Field(name: "stride", kind: .pair),
                      Field(name: "padding", kind: .padding),
                      Field(name: "count_include_pad", kind: .bool),
                      ceilMode],
        // `order` is read for spec files written before the engine had one layout: "nhwc" is
        // built as `permute` [1, 2, 0] + `flatten` (docs/architecture-spec.md, "flatten").
        "flatten": [Field(name: "order", kind: .oneOf(["nchw", "nhwc"]))],
        "permute": [Field(name: "dims", kind: .permutation, required: true)],
        "shortcut_a": [Field(name: "out_channels", kind: .positiveInt, required: true),
                       Field(name: "stride", kind: .pair),
                       Field(name: "pad_before", kind: .nonNegativeInt)],
        "dropout": [Field(name: "p", kind: .probability)],
        "zeropad2d": [Field(name: "padding", kind: .padding, required: true)],
        "reshape": [Field(name: "shape", kind: .reshapeShape, required: true)],
        // Activations beyond relu/sigmoid/tanh (PointwiseActivation.swift), named for the
        // framework whose formula they follow where frameworks differ.
        "relu6": [], "selu": [], "silu": [], "hardswish": [], "hardsigmoid_torch": [], "hardsigmoid_keras2": [],
        "leaky_relu": [Field(name: "negative_slope", kind: .number)],
        "relu_keras": [Field(name: "max_value", kind: .nonNegativeNumber),
                       Field(name: "negative_slope", kind: .number),
                       Field(name: "threshold", kind: .number)],
        "elu": [Field(name: "alpha", kind: .number)],
        "gelu": [Field(name: "approximate", kind: .oneOf(["none", "tanh"]))],
        // Layers Keras models use (docs/keras-layers.md).
        "rescaling": [Field(name: "scale", kind: .numbers, required: true),
                      Field(name: "offset", kind: .numbers)],
        "normalization": [Field(name: "channels", kind: .positiveInt, required: true)],
        "layernorm": [Field(name: "channels", kind: .positiveInt, required: true),
                      Field(name: "eps", kind: .nonNegativeNumber)],
        "upsample2d": [Field(name: "scale_factor", kind: .pair, required: true),
                       Field(name: "mode", kind: .oneOf(["nearest", "bilinear"]))],
        "dropout2d": [Field(name: "p", kind: .probability)],
    ]

    /// Every field a layer of `type` may have, in table order (common fields first; a
    /// type-specific entry replaces the common one, as `add` makes `inputs` required).
    static func fields(for type: String) -> [Field]? {
        guard let specific = byType[type] else { return nil }
        let keys = parameters[type] != nil ? [Field(name: "keys", kind: .keys)] : []
        return common.filter { c in !specific.contains { $0.name == c.name } } + specific + keys
    }
}
