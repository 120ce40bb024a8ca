/// Built-in architectures, by name (`--arch cifar-resnet26`, `--arch mlp:784-800-800-10`).
///
/// - `cifar-resnet{8,14,20,26,32,44,56,110}`: the paper's CIFAR ResNets (depth 6n+2; input
///   3x32x32; 16/32/64 channels; option-A parameter-free shortcuts; global average pooling;
///   `linear` 64→10). State-dict keys equal the authors' PyTorch code, so their checkpoints
///   load unchanged. Parameter counts: ResNet8 75,290; 14 172,506; 20 269,722; 26 366,938.
/// - `mlp:I-H1-...-C`: fully connected ReLU network, layers `fc1`, `fc2`, ... (keys
///   `fc1.weight`, `fc1.bias`, ...), e.g. `mlp:784-800-800-10` (Hinton's MNIST nets).
public enum Presets {
    public static let names = ["cifar-resnet8", "cifar-resnet14", "cifar-resnet20", "cifar-resnet26",
                               "cifar-resnet32", "cifar-resnet44", "cifar-resnet56", "cifar-resnet110",
                               "mlp:I-H...-C"]

    /// The spec for a preset name, or nil if the name is not a preset.
    public static func spec(named name: String, classes: Int = 10) throws -> ArchitectureSpec? {
        if name.hasPrefix("cifar-resnet"), let depth = Int(name.dropFirst("cifar-resnet".count)) {
            guard depth >= 8, (depth - 2) % 6 == 0 else {
                throw ModelIOError(.unsupported, file: name, "CIFAR ResNet depth must be 6n+2 (8, 14, 20, 26, ...), found \(depth)")
            }
            return cifarResNet(blocksPerStage: (depth - 2) / 6, classes: classes, name: name)
        }
        if name.hasPrefix("mlp:") {
            let sizes = name.dropFirst(4).split(separator: "-").map { Int($0) }
            guard sizes.count >= 2, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ModelIOError(.malformed, file: name, "an MLP preset is mlp:IN-HIDDEN-...-CLASSES with positive sizes, e.g. mlp:784-800-800-10")
            }
            return mlp(sizes.map { $0! }, name: name)
        }
        return nil
    }

    static func mlp(_ sizes: [Int], name: String) -> ArchitectureSpec {
        var layers: [LayerSpec] = []
        for i in 0..<(sizes.count - 1) {
            var l = LayerSpec(name: "fc\(i + 1)", type: "linear")
            l.inFeatures = sizes[i]; l.outFeatures = sizes[i + 1]
            layers.append(l)
            if i < sizes.count - 2 { layers.append(LayerSpec(name: "relu\(i + 1)", type: "relu")) }
        }
        return ArchitectureSpec(name: name, inputShape: [sizes[0]], classes: sizes.last!, layers: layers)
    }

    static func cifarResNet(blocksPerStage n: Int, classes: Int, name: String) -> ArchitectureSpec {
        var layers: [LayerSpec] = []
        func conv(_ name: String, _ cin: Int, _ cout: Int, stride: Int, inputs: [String]? = nil) {
            var l = LayerSpec(name: name, type: "conv2d", inputs: inputs)
            l.inChannels = cin; l.outChannels = cout; l.kernel = [3, 3]; l.stride = [stride, stride]
            l.padding = [1, 1, 1, 1]; l.bias = false
            layers.append(l)
        }
        func bn(_ name: String, _ c: Int) {
            var l = LayerSpec(name: name, type: "batchnorm"); l.channels = c; l.eps = 1e-5; l.momentum = 0.1
            layers.append(l)
        }
        conv("conv1", 3, 16, stride: 1)
        bn("bn1", 16)
        layers.append(LayerSpec(name: "relu", type: "relu"))
        var last = "relu", inPlanes = 16
        for (stage, planes) in [16, 32, 64].enumerated() {
            for i in 0..<n {
                let stride = (stage > 0 && i == 0) ? 2 : 1
                let p = "layer\(stage + 1).\(i)"
                conv("\(p).conv1", inPlanes, planes, stride: stride, inputs: [last])
                bn("\(p).bn1", planes)
                layers.append(LayerSpec(name: "\(p).relu1", type: "relu"))
                conv("\(p).conv2", planes, planes, stride: 1)
                bn("\(p).bn2", planes)
                var shortcut = last
                if stride != 1 || inPlanes != planes {
                    var s = LayerSpec(name: "\(p).shortcut", type: "shortcut_a", inputs: [last])
                    s.outChannels = planes; s.stride = [stride, stride]
                    layers.append(s)
                    shortcut = "\(p).shortcut"
                }
                layers.append(LayerSpec(name: "\(p).add", type: "add", inputs: ["\(p).bn2", shortcut]))
                layers.append(LayerSpec(name: "\(p).relu2", type: "relu"))
                last = "\(p).relu2"; inPlanes = planes
            }
        }
        layers.append(LayerSpec(name: "pool", type: "global_avgpool", inputs: [last]))
        var fc = LayerSpec(name: "linear", type: "linear"); fc.inFeatures = 64; fc.outFeatures = classes
        layers.append(fc)
        return ArchitectureSpec(name: name, inputShape: [3, 32, 32], classes: classes, layers: layers)
    }
}
