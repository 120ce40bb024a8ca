/// RepDistiller's mobile CIFAR models (HobbitLong/RepDistiller `models/{mobilenetv2,
/// ShuffleNetv1,ShuffleNetv2}.py`), for 32×32 inputs. Layer names are the source's module
/// paths, so `<layer>.<param>` is its state-dict key.
enum RepDistillerMobilePresets {
    /// `mobile_half`: MobileNetV2 with expansion 6 and width 0.5. Stem `conv1` = (3×3 conv
    /// stride 2, BN, ReLU); seven stages `blocks.S.i` of inverted residuals, each
    /// `conv.0..7` = (1×1 expand, BN, ReLU, 3×3 depthwise (stride), BN, ReLU, 1×1 project, BN),
    /// added to the input when the stride is 1 and the width is kept (the expand conv is there
    /// even at expansion 1); `conv2` = (1×1 to 1280, BN, ReLU); `AvgPool2d(2, ceil_mode=True)`
    /// over the final 2×2; `classifier.0` (1280 → classes; its dropout is commented out).
    static func mobileHalf(name: String, classes: Int) -> ArchitectureSpec {
        let t = 6, width = 0.5
        let settings = [(1, 16, 1, 1), (t, 24, 2, 1), (t, 32, 3, 2), (t, 64, 4, 2), (t, 96, 3, 1), (t, 160, 3, 2), (t, 320, 1, 1)]
        var b = SpecBuilder()
        var cin = Int(32 * width)
        b.conv("conv1.0", 3, cin, stride: 2)
        b.bn("conv1.1", cin)
        var last = b.relu("conv1.2")
        for (s, (expand, c, n, stride)) in settings.enumerated() {
            let cout = Int(Double(c) * width)
            for i in 0..<n {
                let st = i == 0 ? stride : 1, hidden = cin * expand, p = "blocks.\(s).\(i).conv"
                b.conv("\(p).0", cin, hidden, kernel: 1, padding: 0, from: last)
                b.bn("\(p).1", hidden)
                b.relu("\(p).2")
                b.conv("\(p).3", hidden, hidden, stride: st, groups: hidden)
                b.bn("\(p).4", hidden)
                b.relu("\(p).5")
                b.conv("\(p).6", hidden, cout, kernel: 1, padding: 0)
                let out = b.bn("\(p).7", cout)
                last = st == 1 && cin == cout ? b.sum("blocks.\(s).\(i).add", last, out) : out
                cin = cout
            }
        }
        b.conv("conv2.0", cin, 1280, kernel: 1, padding: 0)
        b.bn("conv2.1", 1280)
        b.relu("conv2.2")
        b.avgPool("avgpool", 2, stride: 2, ceilMode: true)
        b.simple("flatten", "flatten")
        b.linear("classifier.0", 1280, classes)
        return b.spec(name, classes: classes)
    }

    /// `ShuffleV1`: ShuffleNet with 3 groups, stage widths 240/480/960, 4/8/4 blocks. Stem
    /// `conv1` (1×1, 3 → 24), `bn1`, ReLU. Bottleneck `layerS.i`: `conv1` (1×1, groups 3, or 1
    /// when the input is the stem's 24 channels), `bn1`, ReLU, channel shuffle, `conv2` (3×3
    /// depthwise, stride 2 in a stage's first block), `bn2`, `conv3` (1×1, groups 3), `bn3`;
    /// a first block concatenates [main, 3×3 stride-2 average pooling of the input (padding 1,
    /// padding counted)] and its main branch makes the stage width minus the input's; the others
    /// add the input; then ReLU. 4×4 average pooling, `linear`.
    static func shuffleV1(name: String, classes: Int) -> ArchitectureSpec {
        let widths = [240, 480, 960], blocks = [4, 8, 4], groups = 3
        var b = SpecBuilder()
        b.conv("conv1", 3, 24, kernel: 1, padding: 0)
        b.bn("bn1", 24)
        var last = b.relu("relu")
        var cin = 24
        for (s, (width, n)) in zip(widths, blocks).enumerated() {
            for i in 0..<n {
                let p = "layer\(s + 1).\(i)", stride = i == 0 ? 2 : 1
                let cout = width - (i == 0 ? cin : 0), mid = cout / 4, g = cin == 24 ? 1 : groups
                b.conv("\(p).conv1", cin, mid, kernel: 1, padding: 0, groups: g, from: last)
                b.bn("\(p).bn1", mid)
                b.relu("\(p).relu1")
                var sh = LayerSpec(name: "\(p).shuffle1", type: "channel_shuffle")
                sh.groups = g
                b.add(sh)
                b.conv("\(p).conv2", mid, mid, stride: stride, groups: mid)
                b.bn("\(p).bn2", mid)
                b.relu("\(p).relu2")
                b.conv("\(p).conv3", mid, cout, kernel: 1, padding: 0, groups: groups)
                let main = b.bn("\(p).bn3", cout)
                if stride == 2 {
                    let res = b.avgPool("\(p).shortcut.0", 3, stride: 2, padding: 1, from: last)
                    b.add(LayerSpec(name: "\(p).cat", type: "concat"), from: [main, res])
                } else {
                    b.sum("\(p).add", main, last)
                }
                last = b.relu("\(p).relu3")
                cin = width
            }
        }
        b.avgPool("avgpool", 4)
        b.simple("flatten", "flatten")
        b.linear("linear", cin, classes)
        return b.spec(name, classes: classes)
    }

    /// `ShuffleV2` (net size 1): stage widths 116/232/464, 3/7/3 basic blocks after a down
    /// block, 1×1 to 1024. Stem `conv1` (1×1, 3 → 24), `bn1`, ReLU. Down block `layerS.0`: left
    /// = `conv1` (3×3 depthwise stride 2), `bn1`, `conv2` (1×1 to half), `bn2`, ReLU; right =
    /// `conv3` (1×1 to half), `bn3`, ReLU, `conv4` (3×3 depthwise stride 2), `bn4`, `conv5`,
    /// `bn5`, ReLU; concatenated, shuffled (2 groups). Basic block `layerS.i`: split the channels
    /// in halves, the second through `conv1`, `bn1`, ReLU, `conv2` (3×3 depthwise), `bn2`,
    /// `conv3`, `bn3`, ReLU; concatenated after the first half, shuffled. Then `conv2`, `bn2`,
    /// ReLU, 4×4 average pooling, `linear`.
    static func shuffleV2(name: String, classes: Int) -> ArchitectureSpec {
        let widths = [116, 232, 464], blocks = [3, 7, 3]
        var b = SpecBuilder()
        b.conv("conv1", 3, 24, kernel: 1, padding: 0)
        b.bn("bn1", 24)
        var last = b.relu("relu")
        var cin = 24
        func shuffle(_ b: inout SpecBuilder, _ name: String) -> String {
            var l = LayerSpec(name: name, type: "channel_shuffle")
            l.groups = 2
            return b.add(l)
        }
        for (s, (width, n)) in zip(widths, blocks).enumerated() {
            let mid = width / 2, p = "layer\(s + 1).0"
            b.conv("\(p).conv1", cin, cin, stride: 2, groups: cin, from: last)
            b.bn("\(p).bn1", cin)
            b.conv("\(p).conv2", cin, mid, kernel: 1, padding: 0)
            b.bn("\(p).bn2", mid)
            let left = b.relu("\(p).relu2")
            b.conv("\(p).conv3", cin, mid, kernel: 1, padding: 0, from: last)
            b.bn("\(p).bn3", mid)
            b.relu("\(p).relu3")
            b.conv("\(p).conv4", mid, mid, stride: 2, groups: mid)
            b.bn("\(p).bn4", mid)
            b.conv("\(p).conv5", mid, mid, kernel: 1, padding: 0)
            b.bn("\(p).bn5", mid)
            let right = b.relu("\(p).relu5")
            b.add(LayerSpec(name: "\(p).cat", type: "concat"), from: [left, right])
            last = shuffle(&b, "\(p).shuffle")
            for i in 1...n {
                let q = "layer\(s + 1).\(i)", half = width / 2
                var x1 = LayerSpec(name: "\(q).split.0", type: "slice")
                x1.start = 0; x1.end = half
                let first = b.add(x1, from: [last])
                var x2 = LayerSpec(name: "\(q).split.1", type: "slice")
                x2.start = half; x2.end = width
                b.add(x2, from: [last])
                b.conv("\(q).conv1", half, half, kernel: 1, padding: 0)
                b.bn("\(q).bn1", half)
                b.relu("\(q).relu1")
                b.conv("\(q).conv2", half, half, groups: half)
                b.bn("\(q).bn2", half)
                b.conv("\(q).conv3", half, half, kernel: 1, padding: 0)
                b.bn("\(q).bn3", half)
                let out = b.relu("\(q).relu3")
                b.add(LayerSpec(name: "\(q).cat", type: "concat"), from: [first, out])
                last = shuffle(&b, "\(q).shuffle")
            }
            cin = width
        }
        b.conv("conv2", cin, 1024, kernel: 1, padding: 0, from: last)
        b.bn("bn2", 1024)
        b.relu("relu2")
        b.avgPool("avgpool", 4)
        b.simple("flatten", "flatten")
        b.linear("linear", 1024, classes)
        return b.spec(name, classes: classes)
    }
}
