/// ImageNet classifiers as torchvision's `models/{resnet,vgg}.py` define them (torchvision
/// 0.29; the module paths, hence state-dict keys, are those of its published weights).
/// Adaptive average pooling makes them accept any input size their downsampling leaves ≥ 1
/// pixel for; the presets default to 224×224, torchvision's training size.
enum TorchvisionPresets {
    /// ResNet v1.5 (stride in the bottleneck's 3×3 conv): `conv1` (7×7 stride 2, 3 → 64), `bn1`,
    /// ReLU, `maxpool` (3×3 stride 2, padding 1); four stages `layerS.i` of basic blocks
    /// (`conv1`, `bn1`, ReLU, `conv2`, `bn2`; resnet18/34) or bottlenecks (`conv1` 1×1, `bn1`,
    /// `conv2` 3×3 (stride), `bn2`, `conv3` 1×1 to 4× the width, `bn3`; resnet50/101), widths
    /// 64/128/256/512, the last three halving the resolution; where the shape changes the
    /// shortcut is `downsample.0` (1×1 conv, stride) + `downsample.1` (BN); add, ReLU; then
    /// `avgpool` (adaptive, 1×1), flatten, `fc`.
    static let resnetBlocks: [Int: (bottleneck: Bool, blocks: [Int])] = [
        18: (false, [2, 2, 2, 2]), 34: (false, [3, 4, 6, 3]), 50: (true, [3, 4, 6, 3]), 101: (true, [3, 4, 23, 3]),
    ]

    static func resnet(name: String, depth: Int, classes: Int, size: Int) -> ArchitectureSpec {
        let (bottleneck, blocks) = resnetBlocks[depth]!
        let expansion = bottleneck ? 4 : 1
        var b = SpecBuilder()
        b.conv("conv1", 3, 64, kernel: 7, stride: 2, padding: 3)
        b.bn("bn1", 64)
        b.relu("relu")
        var pool = LayerSpec(name: "maxpool", type: "maxpool2d")
        pool.kernel = [3, 3]; pool.stride = [2, 2]; pool.padding = [1, 1, 1, 1]
        var last = b.add(pool)
        var cin = 64
        for (s, n) in blocks.enumerated() {
            let planes = 64 << s, cout = planes * expansion
            for i in 0..<n {
                let p = "layer\(s + 1).\(i)", stride = (s > 0 && i == 0) ? 2 : 1
                var main: String
                if bottleneck {
                    b.conv("\(p).conv1", cin, planes, kernel: 1, padding: 0, from: last)
                    b.bn("\(p).bn1", planes)
                    b.relu("\(p).relu1")
                    b.conv("\(p).conv2", planes, planes, stride: stride)
                    b.bn("\(p).bn2", planes)
                    b.relu("\(p).relu2")
                    b.conv("\(p).conv3", planes, cout, kernel: 1, padding: 0)
                    main = b.bn("\(p).bn3", cout)
                } else {
                    b.conv("\(p).conv1", cin, planes, stride: stride, from: last)
                    b.bn("\(p).bn1", planes)
                    b.relu("\(p).relu1")
                    b.conv("\(p).conv2", planes, planes)
                    main = b.bn("\(p).bn2", planes)
                }
                var residual = last
                if stride != 1 || cin != cout {
                    b.conv("\(p).downsample.0", cin, cout, kernel: 1, stride: stride, padding: 0, from: last)
                    residual = b.bn("\(p).downsample.1", cout)
                }
                b.sum("\(p).add", main, residual)
                last = b.relu("\(p).relu")
                cin = cout
            }
        }
        var avg = LayerSpec(name: "avgpool", type: "adaptive_avgpool2d")
        avg.outputSize = [1, 1]
        b.add(avg)
        b.simple("flatten", "flatten")
        b.linear("fc", cin, classes)
        return b.spec(name, classes: classes, size: size)
    }

    /// VGG with batch norm: `features.i` = (3×3 conv with bias, BN, ReLU) per width and 2×2 max
    /// pooling per "M" of the configuration, numbered as `nn.Sequential` numbers them;
    /// `avgpool` (adaptive, 7×7), flatten, `classifier.{0,3,6}` linear layers (25088 → 4096 →
    /// 4096 → classes) with ReLU and dropout (p 0.5, identity in inference) between.
    static let vggConfigurations: [Int: [Int]] = [   // 0 is "M"
        11: [64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
        16: [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0],
    ]

    static func vggBN(name: String, depth: Int, classes: Int, size: Int) -> ArchitectureSpec {
        var b = SpecBuilder()
        var index = 0, cin = 3
        for v in vggConfigurations[depth]! {
            if v == 0 {
                b.maxPool("features.\(index)", 2)
                index += 1
            } else {
                b.conv("features.\(index)", cin, v, bias: true)
                b.bn("features.\(index + 1)", v)
                b.relu("features.\(index + 2)")
                index += 3
                cin = v
            }
        }
        var avg = LayerSpec(name: "avgpool", type: "adaptive_avgpool2d")
        avg.outputSize = [7, 7]
        b.add(avg)
        b.simple("flatten", "flatten")
        b.linear("classifier.0", 512 * 7 * 7, 4096)
        b.relu("classifier.1")
        var drop = LayerSpec(name: "classifier.2", type: "dropout")
        drop.p = 0.5
        b.add(drop)
        b.linear("classifier.3", 4096, 4096)
        b.relu("classifier.4")
        var drop2 = LayerSpec(name: "classifier.5", type: "dropout")
        drop2.p = 0.5
        b.add(drop2)
        b.linear("classifier.6", 4096, classes)
        return b.spec(name, classes: classes, size: size)
    }
}
