/// torchvision 0.29's mobile ImageNet models (`models/{mobilenetv2,mobilenetv3,efficientnet}.py`),
/// with its module paths as layer names. Each `Conv2dNormActivation` is `<path>.0` (conv, no
/// bias), `<path>.1` (BN) and, where it has one, `<path>.2` (activation). Stochastic depth is
/// the identity in inference and has no layer; dropout layers are kept (identity in inference).
enum TorchvisionMobilePresets {
    /// A `Conv2dNormActivation`: conv (padding (k − 1)/2), BN, optional activation of `act` type.
    @discardableResult
    static func convNormAct(_ b: inout SpecBuilder, _ path: String, _ cin: Int, _ cout: Int, kernel: Int = 1,
                            stride: Int = 1, groups: Int = 1, act: String?, eps: Float = 1e-5, momentum: Float = 0.1,
                            from: String? = nil) -> String {
        b.conv("\(path).0", cin, cout, kernel: kernel, stride: stride, padding: (kernel - 1) / 2, groups: groups, from: from)
        let out = b.bn("\(path).1", cout, eps: eps, momentum: momentum)
        guard let act else { return out }
        return b.simple("\(path).2", act)
    }

    /// torchvision's `SqueezeExcitation`: adaptive average pooling to 1×1, `fc1` (1×1 conv with
    /// bias), `activation`, `fc2`, `scale_activation`, times the input.
    static func squeezeExcitation(_ b: inout SpecBuilder, _ path: String, _ x: String, _ channels: Int, _ squeeze: Int,
                                  act: String, scale: String) -> String {
        var pool = LayerSpec(name: "\(path).avgpool", type: "adaptive_avgpool2d")
        pool.outputSize = [1, 1]
        b.add(pool, from: [x])
        b.conv("\(path).fc1", channels, squeeze, kernel: 1, padding: 0, bias: true)
        b.simple("\(path).activation", act)
        b.conv("\(path).fc2", squeeze, channels, kernel: 1, padding: 0, bias: true)
        let s = b.simple("\(path).scale_activation", scale)
        return b.add(LayerSpec(name: "\(path).mul", type: "multiply"), from: [s, x])
    }

    /// torchvision's `_make_divisible(v, 8)`: the multiple of 8 nearest `v`, at least 8 and at
    /// least 90% of `v`.
    static func divisible(_ v: Double, _ d: Int = 8) -> Int {
        var n = max(d, Int(v + Double(d) / 2) / d * d)
        if Double(n) < 0.9 * v { n += d }
        return n
    }

    static func head(_ b: inout SpecBuilder, features: Int, hidden: Int?, act: String, dropout: Float, classes: Int,
                     firstIndex: Int) {
        var pool = LayerSpec(name: "avgpool", type: "adaptive_avgpool2d")
        pool.outputSize = [1, 1]
        b.add(pool)
        b.simple("flatten", "flatten")
        var i = firstIndex, width = features
        if let hidden {
            b.linear("classifier.\(i)", features, hidden)
            b.simple("classifier.\(i + 1)", act)
            i += 2; width = hidden
        }
        var drop = LayerSpec(name: "classifier.\(i)", type: "dropout")
        drop.p = dropout
        b.add(drop)
        b.linear("classifier.\(i + 1)", width, classes)
    }

    /// MobileNetV2 (width 1): `features.0` (3×3 stride 2 to 32, ReLU6); 17 inverted residuals
    /// `features.k.conv` = [`0` 1×1 expand (×6, ReLU6; absent at expansion 1)], 3×3 depthwise
    /// (ReLU6), 1×1 projection conv + BN, added to the input at stride 1 when the width is kept;
    /// `features.18` (1×1 to 1280, ReLU6); pooling, `classifier.0` dropout 0.2, `classifier.1`.
    static func mobileNetV2(name: String, classes: Int, size: Int) -> ArchitectureSpec {
        let settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
        var b = SpecBuilder()
        var last = convNormAct(&b, "features.0", 3, 32, kernel: 3, stride: 2, act: "relu6")
        var cin = 32, k = 1
        for (t, c, n, s) in settings {
            for i in 0..<n {
                let stride = i == 0 ? s : 1, hidden = cin * t, p = "features.\(k).conv"
                var j = 0
                if t != 1 { convNormAct(&b, "\(p).0", cin, hidden, act: "relu6", from: last); j = 1 }
                convNormAct(&b, "\(p).\(j)", hidden, hidden, kernel: 3, stride: stride, groups: hidden, act: "relu6",
                            from: t == 1 ? last : nil)
                b.conv("\(p).\(j + 1)", hidden, c, kernel: 1, padding: 0)
                let out = b.bn("\(p).\(j + 2)", c)
                last = stride == 1 && cin == c ? b.sum("features.\(k).add", last, out) : out
                cin = c; k += 1
            }
        }
        convNormAct(&b, "features.\(k)", cin, 1280, act: "relu6")
        head(&b, features: 1280, hidden: nil, act: "relu6", dropout: 0.2, classes: classes, firstIndex: 0)
        return b.spec(name, classes: classes, size: size)
    }

    /// MobileNetV3 small/large: BN eps 0.001, momentum 0.01; `features.0` (3×3 stride 2 to 16,
    /// hardswish); inverted residuals `features.k.block.j` = [1×1 expand], k×k depthwise, [SE
    /// with squeeze `divisible(expanded / 4)`, ReLU, hardsigmoid], 1×1 projection (no
    /// activation), ReLU or hardswish per the configuration, added at stride 1 when the width is
    /// kept; last 1×1 conv to 6× the last width (hardswish); `classifier.0` linear, `.1`
    /// hardswish, `.2` dropout 0.2, `.3` linear.
    static func mobileNetV3(name: String, large: Bool, classes: Int, size: Int) -> ArchitectureSpec {
        // (kernel, expanded, out, SE, hardswish, stride); inputs follow from the previous out.
        let small: [(Int, Int, Int, Bool, Bool, Int)] = [
            (3, 16, 16, true, false, 2), (3, 72, 24, false, false, 2), (3, 88, 24, false, false, 1),
            (5, 96, 40, true, true, 2), (5, 240, 40, true, true, 1), (5, 240, 40, true, true, 1),
            (5, 120, 48, true, true, 1), (5, 144, 48, true, true, 1), (5, 288, 96, true, true, 2),
            (5, 576, 96, true, true, 1), (5, 576, 96, true, true, 1)]
        let largeConf: [(Int, Int, Int, Bool, Bool, Int)] = [
            (3, 16, 16, false, false, 1), (3, 64, 24, false, false, 2), (3, 72, 24, false, false, 1),
            (5, 72, 40, true, false, 2), (5, 120, 40, true, false, 1), (5, 120, 40, true, false, 1),
            (3, 240, 80, false, true, 2), (3, 200, 80, false, true, 1), (3, 184, 80, false, true, 1),
            (3, 184, 80, false, true, 1), (3, 480, 112, true, true, 1), (3, 672, 112, true, true, 1),
            (5, 672, 160, true, true, 2), (5, 960, 160, true, true, 1), (5, 960, 160, true, true, 1)]
        let eps: Float = 0.001, momentum: Float = 0.01
        var b = SpecBuilder()
        var last = convNormAct(&b, "features.0", 3, 16, kernel: 3, stride: 2, act: "hardswish", eps: eps, momentum: momentum)
        var cin = 16
        for (i, (k, expanded, out, se, hs, stride)) in (large ? largeConf : small).enumerated() {
            let p = "features.\(i + 1).block", act = hs ? "hardswish" : "relu"
            var j = 0, x = last
            if expanded != cin {
                x = convNormAct(&b, "\(p).0", cin, expanded, act: act, eps: eps, momentum: momentum, from: last); j = 1
            }
            x = convNormAct(&b, "\(p).\(j)", expanded, expanded, kernel: k, stride: stride, groups: expanded, act: act,
                            eps: eps, momentum: momentum, from: x)
            j += 1
            if se {
                x = squeezeExcitation(&b, "\(p).\(j)", x, expanded, divisible(Double(expanded) / 4), act: "relu", scale: "hardsigmoid_torch")
                j += 1
            }
            let y = convNormAct(&b, "\(p).\(j)", expanded, out, act: nil, eps: eps, momentum: momentum, from: x)
            last = stride == 1 && cin == out ? b.sum("features.\(i + 1).add", last, y) : y
            cin = out
        }
        let n = (large ? largeConf : small).count
        convNormAct(&b, "features.\(n + 1)", cin, 6 * cin, act: "hardswish", eps: eps, momentum: momentum)
        head(&b, features: 6 * cin, hidden: large ? 1280 : 1024, act: "hardswish", dropout: 0.2, classes: classes, firstIndex: 0)
        return b.spec(name, classes: classes, size: size)
    }

    /// EfficientNet-B0: `features.0` (3×3 stride 2 to 32, SiLU); seven stages `features.s.i` of
    /// MBConv `block` = [1×1 expand (×6, SiLU)], k×k depthwise (SiLU), SE (squeeze = input/4,
    /// SiLU, sigmoid), 1×1 projection, added at stride 1 when the width is kept (stochastic
    /// depth: identity in inference); `features.8` (1×1 to 1280, SiLU); pooling,
    /// `classifier.0` dropout 0.2, `classifier.1`.
    static func efficientNetB0(name: String, classes: Int, size: Int) -> ArchitectureSpec {
        // (expand, kernel, stride, out, layers)
        let stages = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
                      (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
        var b = SpecBuilder()
        var last = convNormAct(&b, "features.0", 3, 32, kernel: 3, stride: 2, act: "silu")
        var cin = 32
        for (s, (t, k, st, out, n)) in stages.enumerated() {
            for i in 0..<n {
                let stride = i == 0 ? st : 1, hidden = cin * t, p = "features.\(s + 1).\(i).block"
                var j = 0, x = last
                if t != 1 { x = convNormAct(&b, "\(p).0", cin, hidden, act: "silu", from: last); j = 1 }
                x = convNormAct(&b, "\(p).\(j)", hidden, hidden, kernel: k, stride: stride, groups: hidden, act: "silu", from: x)
                x = squeezeExcitation(&b, "\(p).\(j + 1)", x, hidden, max(1, cin / 4), act: "silu", scale: "sigmoid")
                let y = convNormAct(&b, "\(p).\(j + 2)", hidden, out, act: nil, from: x)
                last = stride == 1 && cin == out ? b.sum("features.\(s + 1).\(i).add", last, y) : y
                cin = out
            }
        }
        convNormAct(&b, "features.8", cin, 1280, act: "silu")
        head(&b, features: 1280, hidden: nil, act: "silu", dropout: 0.2, classes: classes, firstIndex: 0)
        return b.spec(name, classes: classes, size: size)
    }
}
