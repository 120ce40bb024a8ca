/// Built-in architectures, by name (`--arch heo2019-resnet26`, `--arch mlp:784-800-800-10`).
///
/// Each name says whose code it matches, because same-named models differ between codebases
/// (the two option-A CIFAR ResNets load the same keys yet compute different functions). Every
/// preset's state-dict keys equal its source's, so that code's checkpoints load unchanged; the
/// class count is taken from the checkpoint (its classifier's `out_features`) when loading one,
/// else from the caller (`--classes`, the teacher), else 10. Input is 3×32×32 for the CIFAR
/// families (their pooling assumes it). The table is in README.md, "Presets"; the families are
/// in CIFARPresetFamilies.swift.
///
/// - `heo2019-resnet{8,14,20,26,32,44,56,110}` (any 6n+2): the BSS authors' CIFAR ResNets.
///   Parameter counts: 8 → 75,290; 14 → 172,506; 20 → 269,722; 26 → 366,938.
/// - `akamaster-resnet{20,32,44,56,110}` (any 6n+2): akamaster/pytorch_resnet_cifar10.
/// - `repdistiller-{resnet8..110, resnet8x4, resnet32x4, wrn_16_1, wrn_16_2, wrn_40_1,
///   wrn_40_2, vgg8, vgg11, vgg13, vgg16, vgg19}`: HobbitLong/RepDistiller's CIFAR models
///   (`model_dict` names; its `vggN` are the batch-norm VGGs).
/// - `repdistiller-{mobilenetv2, shufflev1, shufflev2}`: its `mobile_half`, `ShuffleV1`,
///   `ShuffleV2` (MobilePresetFamilies.swift).
/// - `torchvision-{resnet18,34,50,101, vgg11_bn, vgg16_bn, mobilenet_v2, mobilenet_v3_small,
///   mobilenet_v3_large, efficientnet_b0}`: torchvision 0.29's ImageNet models
///   (TorchvisionPresetFamilies.swift, TorchvisionMobilePresets.swift); input 3×224×224 by
///   default, any size ≥ 32 as `NAME@SIZE` (`torchvision-resnet18@64`) or via `inputSize`
///   (their adaptive pooling makes them size-agnostic).
/// - `mlp:I-H1-...-C`: fully connected ReLU network, layers `fc1`, `fc2`, ... (keys
///   `fc1.weight`, `fc1.bias`, ...), e.g. `mlp:784-800-800-10` (Hinton's MNIST nets).
public enum Presets {
    /// A code base whose models presets reproduce.
    public struct Family: Sendable {
        public var prefix: String
        /// Repository and file the models come from.
        public var source: String
        /// What distinguishes it, one line.
        public var note: String
    }

    public static let families: [Family] = [
        Family(prefix: "heo2019", source: "bhheo/BSS_distillation models/resnet.py",
               note: "option-A shortcut: zero channels appended at the end"),
        Family(prefix: "akamaster", source: "akamaster/pytorch_resnet_cifar10 resnet.py",
               note: "option-A shortcut: zero channels split before and after"),
        Family(prefix: "repdistiller", source: "HobbitLong/RepDistiller models/{resnet,wrn,vgg,mobilenetv2,ShuffleNetv1,ShuffleNetv2}.py",
               note: "ResNets with 1x1 conv+BN shortcuts, pre-activation WRNs, VGG with BN, MobileNetV2 x0.5, ShuffleNet v1/v2"),
        Family(prefix: "torchvision", source: "pytorch/vision torchvision/models/{resnet,vgg,mobilenetv2,mobilenetv3,efficientnet}.py (0.29)",
               note: "ImageNet ResNets (v1.5), VGG with BN, MobileNet V2/V3, EfficientNet-B0; any input size (default 224)"),
        Family(prefix: "mlp", source: "bss", note: "fully connected ReLU network, sizes in the name"),
    ]

    /// The listed presets (families accept other depths where the source does: 6n+2 ResNets).
    public static let names: [String] =
        [8, 14, 20, 26, 32, 44, 56, 110].map { "heo2019-resnet\($0)" }
        + [20, 32, 44, 56, 110].map { "akamaster-resnet\($0)" }
        + repDistiller.map(\.name)
        + torchvision.map(\.name)
        + ["mlp:I-H...-C"]

    /// RepDistiller `model_dict` names this tool builds, with their builders.
    static let repDistiller: [(name: String, build: (String, Int) -> ArchitectureSpec)] =
        [8, 14, 20, 32, 44, 56, 110].map { d in
            ("repdistiller-resnet\(d)", { CIFARResNetPresets.spec(name: $0, blocksPerStage: (d - 2) / 6, widths: [16, 16, 32, 64], shortcut: .projection, classes: $1) })
        } + [(8, "resnet8x4"), (32, "resnet32x4")].map { d, n in
            ("repdistiller-\(n)", { CIFARResNetPresets.spec(name: $0, blocksPerStage: (d - 2) / 6, widths: [32, 64, 128, 256], shortcut: .projection, classes: $1) })
        } + [(16, 1), (16, 2), (40, 1), (40, 2)].map { d, k in
            ("repdistiller-wrn_\(d)_\(k)", { WideResNetPresets.spec(name: $0, depth: d, widen: k, classes: $1) })
        } + [8, 11, 13, 16, 19].map { d in
            ("repdistiller-vgg\(d)", { VGGPresets.spec(name: $0, depth: d, classes: $1) })
        } + [
            ("repdistiller-mobilenetv2", RepDistillerMobilePresets.mobileHalf),
            ("repdistiller-shufflev1", RepDistillerMobilePresets.shuffleV1),
            ("repdistiller-shufflev2", RepDistillerMobilePresets.shuffleV2),
        ]

    /// torchvision model names this tool builds, with their builders (name, classes, input size).
    static let torchvision: [(name: String, build: (String, Int, Int) -> ArchitectureSpec)] =
        [18, 34, 50, 101].map { d in
            ("torchvision-resnet\(d)", { TorchvisionPresets.resnet(name: $0, depth: d, classes: $1, size: $2) })
        } + [11, 16].map { d in
            ("torchvision-vgg\(d)_bn", { TorchvisionPresets.vggBN(name: $0, depth: d, classes: $1, size: $2) })
        } + [
            ("torchvision-mobilenet_v2", TorchvisionMobilePresets.mobileNetV2),
            ("torchvision-mobilenet_v3_small", { TorchvisionMobilePresets.mobileNetV3(name: $0, large: false, classes: $1, size: $2) }),
            ("torchvision-mobilenet_v3_large", { TorchvisionMobilePresets.mobileNetV3(name: $0, large: true, classes: $1, size: $2) }),
            ("torchvision-efficientnet_b0", TorchvisionMobilePresets.efficientNetB0),
        ]

    /// The spec for a preset name, or nil if the name is not a preset. `inputSize` (height =
    /// width) is for the size-agnostic torchvision presets (default 224); the CIFAR families'
    /// pooling fixes theirs at 32, so giving one there is an error.
    public static func spec(named name: String, classes: Int = 10, inputSize: Int? = nil) throws -> ArchitectureSpec? {
        guard classes >= 1 else {
            throw ModelIOError(.malformed, file: name, "the class count must be ≥ 1, found \(classes)")
        }
        if let at = name.firstIndex(of: "@") {
            // `torchvision-resnet18@64`: a size-agnostic preset built for 64×64 inputs, usable
            // wherever an architecture name is (`--arch`, run configurations).
            let base = String(name[..<at]), suffix = name[name.index(after: at)...]
            guard let size = Int(suffix), size >= 1 else {
                throw ModelIOError(.malformed, file: name, "the input size after '@' must be a positive integer, found '\(suffix)'")
            }
            guard base.hasPrefix("torchvision-") else {
                throw ModelIOError(.unsupported, file: name, "only the torchvision presets take an input size (NAME@SIZE); '\(base)' has a fixed input")
            }
            guard inputSize == nil || inputSize == size else {
                throw ModelIOError(.malformed, file: name, "two input sizes given: \(size) in the name and \(inputSize!)")
            }
            return try spec(named: base, classes: classes, inputSize: size).map { s in
                var s = s
                s.name = name
                return s
            }
        }
        if name.hasPrefix("torchvision-") {
            guard let entry = torchvision.first(where: { $0.name == name }) else {
                throw ModelIOError(.unsupported, file: name, "not a torchvision preset; known: \(torchvision.map(\.name).joined(separator: ", "))")
            }
            let size = inputSize ?? 224
            // Five halvings (stem, max pooling, three strided stages) must leave ≥ 1 pixel.
            guard size >= 32 else {
                throw ModelIOError(.malformed, file: name, "torchvision models downsample 32x: the input size must be ≥ 32, found \(size)")
            }
            return entry.build(name, classes, size)
        }
        if let inputSize, (isFixedSize(name) && inputSize != 32) || name.hasPrefix("mlp:") {
            throw ModelIOError(.unsupported, file: name, name.hasPrefix("mlp:") ? "an MLP's input size is in its name"
                               : "this preset's pooling fixes its input at 32x32, found input size \(inputSize)")
        }
        if name.hasPrefix("cifar-resnet") {
            let depth = name.dropFirst("cifar-resnet".count)
            throw ModelIOError(.unsupported, file: name,
                               "ambiguous preset name: CIFAR ResNet codebases differ in where the option-A shortcut puts its zero channels, and their weights load into either with no error; use heo2019-resnet\(depth) (the BSS authors' code: zero channels appended at the end) or akamaster-resnet\(depth) (akamaster/pytorch_resnet_cifar10: zero channels split before and after); `bss verify` tells them apart")
        }
        for (prefix, shortcut) in [("heo2019-resnet", CIFARResNetPresets.Shortcut.padEnd), ("akamaster-resnet", .padBothSides)]
        where name.hasPrefix(prefix) {
            guard let depth = Int(name.dropFirst(prefix.count)), depth >= 8, (depth - 2) % 6 == 0 else {
                throw ModelIOError(.unsupported, file: name, "a CIFAR ResNet's depth must be 6n+2 (8, 14, 20, 26, 32, 44, 56, 110, ...), found '\(name.dropFirst(prefix.count))'")
            }
            return CIFARResNetPresets.spec(name: name, blocksPerStage: (depth - 2) / 6, widths: [16, 16, 32, 64],
                                           shortcut: shortcut, classes: classes)
        }
        if name.hasPrefix("repdistiller-") {
            guard let entry = repDistiller.first(where: { $0.name == name }) else {
                throw ModelIOError(.unsupported, file: name, "not a RepDistiller preset; known: \(repDistiller.map(\.name).joined(separator: ", "))")
            }
            return entry.build(name, classes)
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

    /// True for the names of the fixed-size (32×32) CIFAR families.
    private static func isFixedSize(_ name: String) -> Bool {
        ["heo2019-", "akamaster-", "repdistiller-"].contains { name.hasPrefix($0) }
    }

    /// The family a preset name belongs to.
    public static func family(of name: String) -> Family? {
        families.first { name.hasPrefix($0.prefix + (($0.prefix == "mlp") ? ":" : "-")) }
    }

    /// The source file a preset reproduces, e.g. "HobbitLong/RepDistiller models/wrn.py".
    public static func source(of name: String) -> String? {
        guard let f = family(of: name) else { return nil }
        if f.prefix == "torchvision" {
            let file = name.contains("-vgg") ? "vgg" : name.contains("-mobilenet_v2") ? "mobilenetv2"
                : name.contains("-mobilenet_v3") ? "mobilenetv3" : name.contains("-efficientnet") ? "efficientnet" : "resnet"
            return "pytorch/vision torchvision/models/\(file).py"
        }
        guard f.prefix == "repdistiller" else { return f.source }
        let file = name.contains("-wrn") ? "wrn" : name.contains("-vgg") ? "vgg" : name.contains("-mobilenetv2") ? "mobilenetv2"
            : name.contains("-shufflev1") ? "ShuffleNetv1" : name.contains("-shufflev2") ? "ShuffleNetv2" : "resnet"
        return "HobbitLong/RepDistiller models/\(file).py"
    }

    /// State-dict key of a preset's classifier weight (`[classes, features]`), whose rows give
    /// the class count of a checkpoint; nil for presets whose name fixes it (`mlp:`).
    public static func classifierWeightKey(of name: String) -> String? {
        guard !name.hasPrefix("mlp:"), let spec = try? spec(named: name) else { return nil }
        return spec.layers.last.map { $0.name + ".weight" }
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
}
