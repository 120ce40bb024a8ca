/// Builds the layer list of a preset: each added layer reads the previous one unless told
/// otherwise, and `inputs` is written only where it is not simply the previous layer, so the
/// spec stays as short as a hand-written one.
struct SpecBuilder {
    private(set) var layers: [LayerSpec] = []
    /// The most recently added layer ("input" before the first).
    private(set) var last = "input"

    /// Adds `layer`, reading `from` (default: the previous layer); returns its name.
    @discardableResult
    mutating func add(_ layer: LayerSpec, from: [String]? = nil) -> String {
        var l = layer
        let sources = from ?? [last]
        if sources != [layers.last?.name ?? "input"] { l.inputs = sources }
        layers.append(l)
        last = l.name
        return l.name
    }

    @discardableResult
    mutating func conv(_ name: String, _ cin: Int, _ cout: Int, kernel: Int = 3, stride: Int = 1, padding: Int = 1,
                       groups: Int = 1, bias: Bool = false, from: String? = nil) -> String {
        var l = LayerSpec(name: name, type: "conv2d")
        l.inChannels = cin; l.outChannels = cout; l.kernel = [kernel, kernel]; l.stride = [stride, stride]
        if padding > 0 { l.padding = [padding, padding, padding, padding] }
        if groups != 1 { l.groups = groups }
        l.bias = bias
        return add(l, from: from.map { [$0] })
    }

    /// PyTorch's `BatchNorm2d(c)`; defaults eps 1e-5, momentum 0.1.
    @discardableResult
    mutating func bn(_ name: String, _ channels: Int, eps: Float = 1e-5, momentum: Float = 0.1, from: String? = nil) -> String {
        var l = LayerSpec(name: name, type: "batchnorm")
        l.channels = channels; l.eps = eps; l.momentum = momentum
        return add(l, from: from.map { [$0] })
    }

    @discardableResult
    mutating func simple(_ name: String, _ type: String, from: String? = nil) -> String {
        add(LayerSpec(name: name, type: type), from: from.map { [$0] })
    }

    @discardableResult
    mutating func relu(_ name: String, from: String? = nil) -> String { simple(name, "relu", from: from) }

    @discardableResult
    mutating func sum(_ name: String, _ a: String, _ b: String) -> String {
        add(LayerSpec(name: name, type: "add"), from: [a, b])
    }

    /// `nn.AvgPool2d(k)`/`F.avg_pool2d(x, k)`: kernel and stride k, no padding.
    @discardableResult
    mutating func avgPool(_ name: String, _ k: Int) -> String {
        var l = LayerSpec(name: name, type: "avgpool2d")
        l.kernel = [k, k]; l.stride = [k, k]
        return add(l)
    }

    @discardableResult
    mutating func maxPool(_ name: String, _ k: Int) -> String {
        var l = LayerSpec(name: name, type: "maxpool2d")
        l.kernel = [k, k]; l.stride = [k, k]
        return add(l)
    }

    @discardableResult
    mutating func linear(_ name: String, _ inFeatures: Int, _ outFeatures: Int) -> String {
        var l = LayerSpec(name: name, type: "linear")
        l.inFeatures = inFeatures; l.outFeatures = outFeatures
        return add(l)
    }

    /// `nn.AvgPool2d(k, stride, padding)` with PyTorch's defaults otherwise (count_include_pad).
    @discardableResult
    mutating func avgPool(_ name: String, _ k: Int, stride: Int, padding: Int = 0, ceilMode: Bool = false,
                          from: String? = nil) -> String {
        var l = LayerSpec(name: name, type: "avgpool2d")
        l.kernel = [k, k]; l.stride = [stride, stride]
        if padding > 0 { l.padding = [padding, padding, padding, padding] }
        if ceilMode { l.ceilMode = true }
        return add(l, from: from.map { [$0] })
    }

    /// The finished spec for a classifier of `size`×`size` RGB images (CIFAR: 32).
    func spec(_ name: String, classes: Int, size: Int = 32) -> ArchitectureSpec {
        ArchitectureSpec(name: name, inputShape: [3, size, size], classes: classes, layers: layers)
    }
}
