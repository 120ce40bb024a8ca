import Foundation
import ModelIO

/// Constant folding: nodes whose inputs are all constants are evaluated at import. These are
/// the shape computations exporters emit (`x.view(x.size(0), -1)` → Shape, Gather, Unsqueeze,
/// Concat; `F.pad` → ConstantOfShape, Concat, Reshape, Slice, Transpose, Cast), so each is
/// implemented for the small integer tensors they carry, not as a general tensor library.
extension ONNXConverter {
    /// Operators evaluated on constants only (an activation input is an error at the node).
    static let foldedOps: Set<String> = ["Constant", "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast",
                                         "ConstantOfShape", "Reshape", "Slice", "Transpose", "Identity"]

    /// Evaluates `n` when every input is a constant (or it is `Shape`/`Constant`); returns false
    /// when it reads an activation and so must become a layer.
    func fold(_ n: Onnx_NodeProto) throws -> Bool {
        let loc = "node '\(label(n))' (\(n.opType))"
        if n.opType == "Constant" { values[n.output[0]] = .const(try constantValue(n)); return true }
        if n.opType == "Shape", let full = shapeValues(n.input.first) {
            let r = full.count
            var start = try attrInt(n, "start", default: 0), end = try attrInt(n, "end", default: r)
            if start < 0 { start += r }; if end < 0 { end += r }
            start = min(max(start, 0), r); end = min(max(end, start), r)
            var shapeTensor = ONNXTensor(shape: [end - start], values: Array(full[start..<end]))
            shapeTensor.integer = true
            values[n.output[0]] = .const(shapeTensor)
            return true
        }
        var ins: [ONNXTensor?] = []
        for name in n.input {
            if name.isEmpty { ins.append(nil); continue }
            guard case let .const(t)? = values[name] else { return false }
            ins.append(t)
        }
        func int(_ t: ONNXTensor?, _ what: String) throws -> [Int] {
            guard let t, let v = t.ints else {
                throw ModelIOError(.unsupported, file: file, location: loc, "\(what) must be a constant of integers")
            }
            return v
        }
        let x = ins.first.flatMap { $0 }
        let out: ONNXTensor
        switch n.opType {
        case "Identity", "Cast":
            guard let x else { throw ModelIOError(.malformed, file: file, location: loc, "no input") }
            out = x
        case "Gather":
            guard let x, ins.count == 2, let idx = ins[1] else { throw ModelIOError(.malformed, file: file, location: loc, "needs data and indices") }
            let axis = try attrInt(n, "axis", default: 0)
            guard axis == 0 || (axis == -1 && x.shape.count == 1), x.shape.count == 1 else {
                throw ModelIOError(.unsupported, file: file, location: loc, "constant Gather on axis \(axis) of shape \(x.shape); only 1-D shape vectors are folded")
            }
            let picked = try int(idx, "indices").map { i -> Double in
                let j = i < 0 ? i + x.count : i
                return j >= 0 && j < x.count ? x.values[j] : .infinity
            }
            guard !picked.contains(.infinity) else { throw ModelIOError(.malformed, file: file, location: loc, "index out of range for shape \(x.shape)") }
            out = ONNXTensor(shape: idx.shape, values: picked)
        case "Unsqueeze", "Squeeze":
            guard let x else { throw ModelIOError(.malformed, file: file, location: loc, "no input") }
            let axes = ins.count > 1 ? try int(ins[1], "axes") : []
            var shape = x.shape
            if n.opType == "Unsqueeze" {
                let r = shape.count + axes.count
                for a in axes.map({ $0 < 0 ? $0 + r : $0 }).sorted() {
                    guard a >= 0 && a <= shape.count else { throw ModelIOError(.malformed, file: file, location: loc, "axis out of range") }
                    shape.insert(1, at: a)
                }
            } else {
                let drop = Set(axes.map { $0 < 0 ? $0 + shape.count : $0 })
                shape = shape.enumerated().filter { axes.isEmpty ? $0.element != 1 : !drop.contains($0.offset) }.map(\.element)
            }
            out = ONNXTensor(shape: shape, values: x.values)
        case "Concat":
            let parts = ins.compactMap { $0 }
            guard !parts.isEmpty, parts.allSatisfy({ $0.shape.count == 1 }) else {
                throw ModelIOError(.unsupported, file: file, location: loc, "constant Concat of other than 1-D vectors is not folded")
            }
            let v = parts.flatMap(\.values)
            out = ONNXTensor(shape: [v.count], values: v)
        case "ConstantOfShape":
            let shape = try int(x, "shape")
            guard shape.allSatisfy({ $0 >= 0 }), let count = checkedProduct(shape), count <= 1 << 20 else {
                throw ModelIOError(.unsupported, file: file, location: loc, "shape \(shape) is not a small constant")
            }
            var fill = 0.0
            if let a = n.attribute.first(where: { $0.name == "value" }) {
                let t = try reader.read(a.t, what: "ConstantOfShape value")
                fill = t.values.first ?? 0
            }
            out = ONNXTensor(shape: shape, values: [Double](repeating: fill, count: shape.reduce(1, *)))
        case "Reshape":
            guard let x, ins.count == 2 else { throw ModelIOError(.malformed, file: file, location: loc, "needs data and shape") }
            var shape = try int(ins[1], "shape")
            for (i, d) in shape.enumerated() where d == 0 && i < x.shape.count { shape[i] = x.shape[i] }
            if let m = shape.firstIndex(of: -1) {
                let rest = checkedProduct(shape.enumerated().filter { $0.offset != m }.map(\.element)) ?? 0
                guard rest > 0, x.count % rest == 0 else { throw ModelIOError(.malformed, file: file, location: loc, "cannot reshape \(x.shape) to \(shape)") }
                shape[m] = x.count / rest
            }
            // Products checked for overflow: the shape is the file's (a fuzzed Reshape trapped here).
            guard shape.allSatisfy({ $0 >= 0 }), checkedProduct(shape) == x.count else {
                throw ModelIOError(.malformed, file: file, location: loc, "cannot reshape \(x.shape) to \(shape)")
            }
            out = ONNXTensor(shape: shape, values: x.values)
        case "Transpose":
            guard let x, x.shape.count == 2 else {
                throw ModelIOError(.unsupported, file: file, location: loc, "only 2-D constant transposes are folded")
            }
            let perm = try attrInts(n, "perm") ?? [1, 0]
            guard perm == [1, 0] || perm == [0, 1] else { throw ModelIOError(.malformed, file: file, location: loc, "perm \(perm)") }
            if perm == [0, 1] { out = x; break }
            let (r, c) = (x.shape[0], x.shape[1])
            var v = [Double](repeating: 0, count: x.count)
            for i in 0..<r { for j in 0..<c { v[j * r + i] = x.values[i * c + j] } }
            out = ONNXTensor(shape: [c, r], values: v)
        case "Slice":
            guard let x, ins.count >= 3 else { throw ModelIOError(.malformed, file: file, location: loc, "needs data, starts and ends") }
            let starts = try int(ins[1], "starts"), ends = try int(ins[2], "ends")
            let axes = ins.count > 3 && ins[3] != nil ? try int(ins[3], "axes") : Array(0..<starts.count)
            let steps = ins.count > 4 && ins[4] != nil ? try int(ins[4], "steps") : starts.map { _ in 1 }
            guard x.shape.count <= 2, starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else {
                throw ModelIOError(.unsupported, file: file, location: loc, "constant Slice of shape \(x.shape) is not folded")
            }
            var ranges = x.shape.map { Array(0..<$0) }
            for k in 0..<axes.count {
                let a = axes[k] < 0 ? axes[k] + x.shape.count : axes[k]
                guard a >= 0 && a < x.shape.count, steps[k] != 0 else { throw ModelIOError(.malformed, file: file, location: loc, "bad axis or step") }
                ranges[a] = sliceIndices(dim: x.shape[a], start: starts[k], end: ends[k], step: steps[k])
            }
            var v: [Double] = []
            if x.shape.count == 1 { v = ranges[0].map { x.values[$0] } } else {
                for i in ranges[0] { for j in ranges[1] { v.append(x.values[i * x.shape[1] + j]) } }
            }
            out = ONNXTensor(shape: ranges.map(\.count), values: v)
        case "Add", "Sub", "Mul", "Div":
            // Shape arithmetic (`c // 2` of a channel count): scalars or equal shapes only.
            guard ins.count == 2, let a = ins[0], let b = ins[1], a.count == 1 || b.count == 1 || a.shape == b.shape else {
                throw ModelIOError(.unsupported, file: file, location: loc, "constant \(n.opType) of these shapes is not folded")
            }
            let integer = a.integer || b.integer
            let shape = a.count >= b.count ? a.shape : b.shape
            let v = (0..<max(a.count, b.count)).map { i -> Double in
                let p = a.values[a.count == 1 ? 0 : i], q = b.values[b.count == 1 ? 0 : i]
                switch n.opType {
                case "Add": return p + q
                case "Sub": return p - q
                case "Mul": return p * q
                default: return integer ? (q == 0 ? .nan : (p / q).rounded(.towardZero)) : p / q
                }
            }
            out = ONNXTensor(shape: shape, values: v)
        default:
            return false
        }
        var result = out
        // Integer-ness follows the inputs (Cast: its target type).
        if n.opType == "Cast" {
            result.integer = [2, 3, 4, 5, 6, 7, 12, 13].contains(try attrInt(n, "to", default: 1))
        } else if n.opType != "ConstantOfShape" {
            result.integer = ins.compactMap { $0 }.first?.integer ?? false || (n.opType != "Gather" && ins.compactMap { $0 }.contains { $0.integer })
        }
        values[n.output[0]] = .const(result)
        return true
    }

    /// The indices `start, start+step, …` before `end`, clamped as ONNX Slice clamps them.
    func sliceIndices(dim: Int, start: Int, end: Int, step: Int) -> [Int] {
        func clamp(_ v: Int, _ lo: Int, _ hi: Int) -> Int { min(max(v, lo), hi) }
        var s = start < 0 ? start + dim : start, e = end < 0 ? end + dim : end
        if step > 0 { s = clamp(s, 0, dim); e = clamp(e, 0, dim) } else { s = clamp(s, -1, dim - 1); e = clamp(e, -1, dim - 1) }
        return Array(stride(from: s, to: e, by: step))
    }

    func constantValue(_ n: Onnx_NodeProto) throws -> ONNXTensor {
        guard let a = n.attribute.first else {
            throw ModelIOError(.malformed, file: file, location: "node '\(label(n))' (Constant)", "no value attribute")
        }
        switch a.name {
        case "value": return try reader.read(a.t, what: "Constant")
        case "value_float": return ONNXTensor(shape: [], values: [Double(a.f)])
        case "value_floats": return ONNXTensor(shape: [a.floats.count], values: a.floats.map(Double.init))
        case "value_int": var t = ONNXTensor(shape: [], values: [Double(a.i)]); t.integer = true; return t
        case "value_ints": var t = ONNXTensor(shape: [a.ints.count], values: a.ints.map(Double.init)); t.integer = true; return t
        default:
            throw ModelIOError(.unsupported, file: file, location: "node '\(label(n))' (Constant)", "attribute '\(a.name)' is not supported")
        }
    }

    /// The full shape of an activation (the batch axis symbolic: NaN, see ONNXTensor) or of a
    /// constant (`F.pad` takes the Shape of its folded pads), for `Shape`.
    private func shapeValues(_ name: String?) -> [Double]? {
        switch name.flatMap({ values[$0] }) {
        case let .act(_, s)?: return [Double.nan] + s.map(Double.init)
        case let .const(t)?: return t.shape.map(Double.init)
        default: return nil
        }
    }

    // MARK: attributes

    func attrInt(_ n: Onnx_NodeProto, _ name: String, default d: Int) throws -> Int {
        guard let a = n.attribute.first(where: { $0.name == name }) else { return d }
        // Bounded so a corrupt value never reaches shape arithmetic (no real graph comes close).
        guard a.type == .int || a.type == .undefined, abs(a.i) < 1 << 24 else {
            throw ModelIOError(.malformed, file: file, location: "node '\(label(n))' (\(n.opType))", "attribute '\(name)' must be an integer")
        }
        return Int(a.i)
    }

    func attrFloat(_ n: Onnx_NodeProto, _ name: String, default d: Float) -> Float {
        n.attribute.first(where: { $0.name == name }).map(\.f) ?? d
    }

    func attrInts(_ n: Onnx_NodeProto, _ name: String) throws -> [Int]? {
        guard let a = n.attribute.first(where: { $0.name == name }) else { return nil }
        guard a.ints.allSatisfy({ abs($0) < 1 << 24 }) else {
            throw ModelIOError(.malformed, file: file, location: "node '\(label(n))' (\(n.opType))", "attribute '\(name)' is out of range")
        }
        return a.ints.map(Int.init)
    }

    func attrString(_ n: Onnx_NodeProto, _ name: String, default d: String) -> String {
        n.attribute.first(where: { $0.name == name }).map { String(decoding: $0.s, as: UTF8.self) } ?? d
    }
}

/// The product of `values`, or nil when it overflows `Int`.
func checkedProduct(_ values: [Int]) -> Int? {
    var product = 1
    for v in values {
        let (p, overflow) = product.multipliedReportingOverflow(by: v)
        if overflow { return nil }
        product = p
    }
    return product
}
