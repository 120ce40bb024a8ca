import Tensor

/// Stochastic gradient descent with momentum, exactly `torch.optim.SGD` (single-tensor path).
///
///     d = g + wd·p
///     buf = d                               on a parameter's first step
///     buf = m·buf + (1 − dampening)·d        afterwards
///     d = d + m·buf  (nesterov)   or   d = buf   (momentum > 0)
///     p = p − lr·d
///
/// Defaults: `momentum 0`, `dampening 0`, `weightDecay 0`, `nesterov false`. Nesterov needs
/// momentum > 0 and dampening 0, as in PyTorch. Only trainable parameters are updated.
/// State: `momentum_buffer.<i>` for index i into `parameters` (the trainable ones given, in order).
public final class SGD: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let momentum: Float
    public let dampening: Float
    public let weightDecay: Float
    public let nesterov: Bool
    public var stepCount = 0
    private var buffers: [[Float]?]

    public init(parameters: [Parameter], lr: Float, momentum: Float = 0, dampening: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false) {
        precondition(lr >= 0 && momentum >= 0 && weightDecay >= 0, "SGD: negative lr, momentum or weight decay")
        precondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: nesterov needs momentum > 0 and dampening 0")
        self.parameters = parameters.filter(\.isTrainable)
        self.learningRate = lr
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        buffers = [[Float]?](repeating: nil, count: self.parameters.count)
    }

    public static let stateBuffers = ["momentum_buffer"]

    public var state: [String: Tensor] {
        get {
            var s: [String: Tensor] = [:]
            for (i, b) in buffers.enumerated() {
                if let b { s["momentum_buffer.\(i)"] = Tensor(shape: parameters[i].value.shape, data: b) }
            }
            return s
        }
        set {
            buffers = [[Float]?](repeating: nil, count: parameters.count)
            for (k, t) in newValue {
                guard let (i, d) = validated(k, t, parameters, prefix: "momentum_buffer") else {
                    preconditionFailure("SGD state: unknown key \(k)")
                }
                buffers[i] = d
            }
        }
    }

    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    public func step() {
        let lr = learningRate, m = momentum, wd = weightDecay, damp = 1 - dampening
        for (i, p) in parameters.enumerated() {
            let first = buffers[i] == nil
            if momentum != 0 && first { buffers[i] = [Float](repeating: 0, count: p.value.count) }
            var buf = buffers[i] ?? []
            buffers[i] = nil   // hold the only reference so writes below do not copy
            p.grad.data.withUnsafeBufferPointer { g in
                p.value.data.withUnsafeMutableBufferPointer { w in
                    buf.withUnsafeMutableBufferPointer { b in
                        for j in 0..<w.count {
                            var d = g[j]
                            if wd != 0 { d += wd * w[j] }
                            if m != 0 {
                                b[j] = first ? d : m * b[j] + damp * d
                                d = nesterov ? d + m * b[j] : b[j]
                            }
                            w[j] -= lr * d
                        }
                    }
                }
            }
            if m != 0 { buffers[i] = buf }
        }
        stepCount += 1
    }
}
