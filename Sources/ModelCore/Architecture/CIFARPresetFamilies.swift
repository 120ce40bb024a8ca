/// The CIFAR ResNets of He et al. (2015), depth 6n+2, as three codebases define them. Layer
/// names are the source's module paths, so `<layer>.<param>` is its state-dict key.
///
/// All three: conv 3×3 3→16, BN, ReLU; three stages of n basic blocks (conv-BN-ReLU-conv-BN,
/// add the shortcut, ReLU), the 2nd and 3rd halving the resolution in their first block;
/// average pooling over the final 8×8; a linear classifier. They differ in the shortcut of a
/// block that changes shape (README, "Presets"):
/// - `heo2019`: the BSS authors' `models/resnet.py`: option A, subsample then zero channels
///   appended at the END (`F.pad(x[:, :, ::2, ::2], (0,0,0,0, 0, C_out − C_in))`).
/// - `akamaster`: akamaster/pytorch_resnet_cifar10 `resnet.py`: option A with the zero channels
///   split, `planes/4` BEFORE and after (`F.pad(..., (0,0,0,0, planes//4, planes//4))`).
///   Same keys and parameter count as `heo2019`, different function: only logits tell them
///   apart (`bss verify`).
/// - `repdistiller`: HobbitLong/RepDistiller `models/resnet.py`: option B, a 1×1 conv (stride s,
///   no bias) + BN (`layerX.0.downsample.{0,1}`), classifier `fc`; also the 4× wider
///   `resnet8x4`/`resnet32x4` (stage widths 32, 64, 128, 256).
enum CIFARResNetPresets {
    enum Shortcut {
        /// Zero channels appended at the end.
        case padEnd
        /// Zero channels split equally before and after.
        case padBothSides
        /// 1×1 convolution + BN.
        case projection
    }

    /// `widths`: the stem's channels, then each stage's.
    static func spec(name: String, blocksPerStage n: Int, widths: [Int], shortcut: Shortcut, classes: Int) -> ArchitectureSpec {
        var b = SpecBuilder()
        b.conv("conv1", 3, widths[0])
        b.bn("bn1", widths[0])
        var last = b.relu("relu")
        var inPlanes = widths[0]
        for (stage, planes) in widths.dropFirst().enumerated() {
            for i in 0..<n {
                let stride = (stage > 0 && i == 0) ? 2 : 1
                let p = "layer\(stage + 1).\(i)"
                b.conv("\(p).conv1", inPlanes, planes, stride: stride, from: last)
                b.bn("\(p).bn1", planes)
                b.relu("\(p).relu1")
                b.conv("\(p).conv2", planes, planes)
                let main = b.bn("\(p).bn2", planes)
                var residual = last
                if stride != 1 || inPlanes != planes {
                    switch shortcut {
                    case .padEnd, .padBothSides:
                        var s = LayerSpec(name: "\(p).shortcut", type: "shortcut_a")
                        s.outChannels = planes; s.stride = [stride, stride]
                        if shortcut == .padBothSides { s.padBefore = (planes - inPlanes) / 2 }
                        residual = b.add(s, from: [last])
                    case .projection:
                        b.conv("\(p).downsample.0", inPlanes, planes, kernel: 1, stride: stride, padding: 0, from: last)
                        residual = b.bn("\(p).downsample.1", planes)
                    }
                }
                b.sum("\(p).add", main, residual)
                last = b.relu("\(p).relu2")
                inPlanes = planes
            }
        }
        switch shortcut {
        case .padEnd, .padBothSides:
            b.simple("pool", "global_avgpool")
            b.linear("linear", inPlanes, classes)
        case .projection:
            // `nn.AvgPool2d(8)` then `x.view(N, -1)`, as the source: 32×32 inputs only.
            b.avgPool("avgpool", 8)
            b.simple("flatten", "flatten")
            b.linear("fc", inPlanes, classes)
        }
        return b.spec(name, classes: classes)
    }
}

/// Wide ResNets as HobbitLong/RepDistiller `models/wrn.py` defines them: WRN-d-k, depth 6n+4,
/// widths 16, 16k, 32k, 64k; pre-activation blocks
/// `BN-ReLU → conv3×3(stride) → BN-ReLU → conv3×3`, added to the input, or, where the width
/// changes, to a 1×1 conv (no bias) of the pre-activated input (`convShortcut`); then
/// BN-ReLU, 8×8 average pooling and `fc`. Keys `blockS.layer.i.{bn1,conv1,bn2,conv2,convShortcut}`.
/// Dropout is 0 in every RepDistiller model, so it has no layer here.
enum WideResNetPresets {
    static func spec(name: String, depth: Int, widen k: Int, classes: Int) -> ArchitectureSpec {
        let n = (depth - 4) / 6
        let widths = [16, 16 * k, 32 * k, 64 * k]
        var b = SpecBuilder()
        var last = b.conv("conv1", 3, widths[0])
        var inPlanes = widths[0]
        for stage in 1...3 {
            let planes = widths[stage]
            for i in 0..<n {
                let stride = (stage > 1 && i == 0) ? 2 : 1
                let p = "block\(stage).layer.\(i)"
                let block = last
                b.bn("\(p).bn1", inPlanes, from: block)
                let pre = b.relu("\(p).relu1")
                b.conv("\(p).conv1", inPlanes, planes, stride: stride)
                b.bn("\(p).bn2", planes)
                b.relu("\(p).relu2")
                let main = b.conv("\(p).conv2", planes, planes)
                let residual = inPlanes == planes
                    ? block
                    : b.conv("\(p).convShortcut", inPlanes, planes, kernel: 1, stride: stride, padding: 0, from: pre)
                last = b.sum("\(p).add", residual, main)
                inPlanes = planes
            }
        }
        b.bn("bn1", inPlanes)
        b.relu("relu")
        b.avgPool("avgpool", 8)
        b.simple("flatten", "flatten")
        b.linear("fc", inPlanes, classes)
        return b.spec(name, classes: classes)
    }
}

/// VGG with batch norm as HobbitLong/RepDistiller `models/vgg.py` defines it for 32×32 inputs:
/// five blocks `blockB` of (conv3×3 with bias, BN, ReLU) whose last ReLU is applied outside
/// the block; 2×2 max pooling after blocks 0–2 (block 3's pooling is used only for 64×64
/// inputs), global average pooling after block 4, then `classifier` (512 → classes).
/// Keys `blockB.{3j}.{weight,bias}` (conv j), `blockB.{3j+1}.*` (its BN).
enum VGGPresets {
    static let configurations: [Int: [[Int]]] = [
        8: [[64], [128], [256], [512], [512]],
        11: [[64], [128], [256, 256], [512, 512], [512, 512]],
        13: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
        16: [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
        19: [[64, 64], [128, 128], [256, 256, 256, 256], [512, 512, 512, 512], [512, 512, 512, 512]],
    ]

    static func spec(name: String, depth: Int, classes: Int) -> ArchitectureSpec {
        var b = SpecBuilder()
        var channels = 3
        for (block, widths) in configurations[depth]!.enumerated() {
            for (j, w) in widths.enumerated() {
                if j > 0 { b.relu("block\(block).\(3 * j - 1)") }
                b.conv("block\(block).\(3 * j)", channels, w, bias: true)
                b.bn("block\(block).\(3 * j + 1)", w)
                channels = w
            }
            b.relu("relu\(block)")
            if block < 3 { b.maxPool("pool\(block)", 2) }
        }
        b.simple("pool4", "global_avgpool")
        b.linear("classifier", channels, classes)
        return b.spec(name, classes: classes)
    }
}
