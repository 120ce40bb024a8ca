/// Default feature taps of the presets: the nodes whose outputs feature-based distillation
/// (FitNets, attention transfer, FSP; docs/algorithm.md, "Feature methods") matches when no
/// `feature_pairs` are given. They follow HobbitLong/RepDistiller's `forward(is_feat=True)`
/// (its default `preact=False`): the stem's output, each stage's (group's) output, and the
/// pooled feature, in forward order.
///
/// - CIFAR ResNets (`heo2019`, `akamaster`, `repdistiller-resnet*`): `relu` (after the stem's
///   BN-ReLU), the last block's `relu2` of `layer1`, `layer2`, `layer3` (after the ReLU, as
///   RepDistiller returns them without `preact`), then the pooled feature (`pool` for the
///   option-A ResNets, `flatten` for RepDistiller's).
/// - WRNs: `conv1`, the last `add` of `block1`, `block2`, `block3` (pre-activation blocks end
///   in the sum), then `flatten` (after the final BN-ReLU and pooling).
/// - VGGs: `relu0` … `relu4` (each block's ReLU, before its pooling), then `pool4`.
/// - `mlp:` presets have none (no spatial maps).
extension Presets {
    public static func featureTaps(of name: String) -> [String]? {
        guard let spec = try? spec(named: name), family(of: name)?.prefix != "mlp" else { return nil }
        let names = spec.layers.map(\.name)
        func lastWith(prefix: String) -> String? { names.last { $0.hasPrefix(prefix) } }
        var taps: [String?]
        if name.contains("-wrn") {
            taps = ["conv1"] + (1...3).map { lastWith(prefix: "block\($0).") } + ["flatten"]
        } else if name.contains("-vgg") {
            taps = (0...4).map { "relu\($0)" } + ["pool4"]
        } else {
            taps = ["relu"] + (1...3).map { lastWith(prefix: "layer\($0).") } + [names.contains("flatten") ? "flatten" : "pool"]
        }
        let found = taps.compactMap { $0 }
        // Every default must name a layer of the spec; a family change that breaks this is a bug.
        precondition(found.count == taps.count && found.allSatisfy(names.contains), "feature taps of \(name) do not match its layers")
        return found
    }
}
