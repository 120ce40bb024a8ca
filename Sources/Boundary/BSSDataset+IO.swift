import Foundation
import ModelIO
import Tensor

/// Reading and writing BSS data sets as `.npz` (numpy) or `.h5`/`.hdf5` (h5py, Keras users).
extension BSSDataset {
    /// The container a path names, by extension.
    enum Container { case npz, hdf5 }

    static func container(of url: URL) throws -> Container {
        switch url.pathExtension.lowercased() {
        case "npz": return .npz
        case "h5", "hdf5": return .hdf5
        default:
            throw ModelIOError(.unsupported, file: url.path,
                               "unknown BSS data set type '.\(url.pathExtension)'; expected .h5 or .npz")
        }
    }

    /// Writes the data set atomically (readers see the old file or the complete new one) as
    /// `.npz` or `.h5` by the extension of `url`. `meta.arrays`, `meta.input_shape` and
    /// `meta.counts.pairs_written` are filled in from the arrays.
    public func write(to url: URL) throws {
        if let (key, message) = inconsistency() {
            preconditionFailure("BSSDataset.write: \(key) \(message)")
        }
        let container = try Self.container(of: url)
        let meta = completedMeta()
        let metaText = try meta.json()
        let xs = storedX()
        let p = count
        switch container {
        case .npz:
            let entries: [(key: String, array: NumpyArray)] = [
                ("base_index", NumpyArray(int64s: baseIndex.map(Int64.init), shape: [p])),
                ("base_class", NumpyArray(int64s: baseClass.map(Int64.init), shape: [p])),
                ("target_class", NumpyArray(int64s: targetClass.map(Int64.init), shape: [p])),
                ("status", NumpyArray(int8s: status.map(\.rawValue), shape: [p])),
                ("steps", NumpyArray(int32s: steps.map { Int32(clamping: $0) }, shape: [p])),
                ("x_bss", NumpyArray(xs)),
                ("teacher_logits", NumpyArray(teacherLogits)),
                ("target_prob", NumpyArray(float32s: targetProbability, shape: [p])),
                ("perturbation_norm", NumpyArray(float32s: perturbationNorm, shape: [p])),
                ("meta", NumpyArray(string: metaText)),
            ]
            try Npz.write(entries, to: url)
        case .hdf5:
            try AtomicFile.write(to: url) { temporary in
                let f = try HDF5File(creating: temporary)
                try f.write(ints: baseIndex.map(Int64.init), shape: [p], to: "base_index", as: .int64)
                try f.write(ints: baseClass.map(Int64.init), shape: [p], to: "base_class", as: .int64)
                try f.write(ints: targetClass.map(Int64.init), shape: [p], to: "target_class", as: .int64)
                try f.write(ints: status.map { Int64($0.rawValue) }, shape: [p], to: "status", as: .int8)
                try f.write(ints: steps.map(Int64.init), shape: [p], to: "steps", as: .int32)
                try f.write(floats: xs.data, shape: xs.shape, to: "x_bss")
                try f.write(floats: teacherLogits.data, shape: teacherLogits.shape, to: "teacher_logits")
                try f.write(floats: targetProbability, shape: [p], to: "target_prob")
                try f.write(floats: perturbationNorm, shape: [p], to: "perturbation_norm")
                try f.setAttribute("meta", string: metaText, at: "/")
                try f.close()
            }
        }
    }

    /// Reads a data set written by `write` (or any tool writing the same arrays and `meta`).
    /// Every problem is a one-line `ModelIOError` naming the file and the array or meta key.
    public static func read(_ url: URL) throws -> BSSDataset {
        let file = url.path
        guard FileManager.default.fileExists(atPath: file) else {
            throw ModelIOError(.notFound, file: file, "no such BSS data set")
        }
        var ints: [String: [Int64]] = [:], floats: [String: (shape: [Int], values: [Float])] = [:]
        let metaText: String
        switch try container(of: url) {
        case .npz:
            let arrays = try Npz.readDictionary(url)
            func array(_ key: String) throws -> NumpyArray {
                guard let a = arrays[key] else {
                    throw ModelIOError(.notFound, file: file, location: key,
                                       "not a BSS data set: no array '\(key)' (found: \(arrays.keys.sorted().joined(separator: ", ")))")
                }
                return a
            }
            for key in intKeys { ints[key] = try array(key).int64s(file: file, key: key) }
            for key in floatKeys {
                let a = try array(key)
                floats[key] = (a.shape, try a.floats(file: file, key: key))
            }
            guard let text = try array("meta").stringValue else {
                throw ModelIOError(.mismatch, file: file, location: "meta", "expected a 0-d unicode array holding JSON")
            }
            metaText = text
        case .hdf5:
            let f = try HDF5File(reading: url)
            defer { try? f.close() }
            for key in intKeys + floatKeys where !f.exists(key) {
                throw ModelIOError(.notFound, file: file, location: key, "not a BSS data set: no dataset '\(key)'")
            }
            for key in intKeys { ints[key] = try f.readInts(key).values }
            for key in floatKeys { floats[key] = try f.readFloats(key) }
            guard f.hasAttribute("meta", at: "/") else {
                throw ModelIOError(.notFound, file: file, location: "meta", "not a BSS data set: no root attribute 'meta'")
            }
            metaText = try f.stringAttribute("meta", at: "/")
        }
        let meta = try BSSMetadata.parse(metaText, file: file)
        return try assemble(ints: ints, floats: floats, meta: meta, file: file)
    }

    private static let intKeys = ["base_index", "base_class", "target_class", "status", "steps"]
    private static let floatKeys = ["x_bss", "teacher_logits", "target_prob", "perturbation_norm"]

    /// Checks shapes and values and builds the data set (x converted to NCHW).
    private static func assemble(ints: [String: [Int64]], floats: [String: (shape: [Int], values: [Float])],
                                 meta: BSSMetadata, file: String) throws -> BSSDataset {
        let p = ints["base_index"]!.count
        for (key, values) in ints where values.count != p {
            throw ModelIOError(.mismatch, file: file, location: key, "has \(values.count) rows, base_index has \(p)")
        }
        for (key, a) in floats where a.shape.first != p {
            throw ModelIOError(.mismatch, file: file, location: key, "has shape \(a.shape), expected \(p) rows (as base_index)")
        }
        guard let layout = DataLayout(rawValue: meta.inputLayout) else {
            throw ModelIOError(.mismatch, file: file, location: "meta", "input_layout must be nchw or nhwc, found '\(meta.inputLayout)'")
        }
        let xa = floats["x_bss"]!
        guard Array(xa.shape.dropFirst()) == meta.inputShape else {
            throw ModelIOError(.mismatch, file: file, location: "x_bss",
                               "has shape \(xa.shape), meta.input_shape says \(meta.inputShape) per sample")
        }
        let logits = floats["teacher_logits"]!
        guard logits.shape.count == 2, logits.shape[1] >= 2 else {
            throw ModelIOError(.mismatch, file: file, location: "teacher_logits", "expected shape [P, classes], found \(logits.shape)")
        }
        let classes = logits.shape[1]
        var status: [BSSStatus] = []
        status.reserveCapacity(p)
        for (row, v) in ints["status"]!.enumerated() {
            guard let s = Int8(exactly: v).flatMap(BSSStatus.init(rawValue:)) else {
                throw ModelIOError(.mismatch, file: file, location: "status", "row \(row): \(v) is not a status code (1, 2 or 3)")
            }
            status.append(s)
        }
        for key in ["base_class", "target_class"] {
            if let row = ints[key]!.firstIndex(where: { !(0..<Int64(classes)).contains($0) }) {
                throw ModelIOError(.mismatch, file: file, location: key,
                                   "row \(row): class \(ints[key]![row]) outside 0..<\(classes) (teacher_logits has \(classes) columns)")
            }
        }
        let x = DataSet.convert(Tensor(shape: xa.shape, data: xa.values), from: layout, to: .nchw)
        return BSSDataset(baseIndex: ints["base_index"]!.map { Int($0) }, baseClass: ints["base_class"]!.map { Int($0) },
                          targetClass: ints["target_class"]!.map { Int($0) }, status: status,
                          steps: ints["steps"]!.map { Int($0) }, x: x,
                          teacherLogits: Tensor(shape: logits.shape, data: logits.values),
                          targetProbability: floats["target_prob"]!.values,
                          perturbationNorm: floats["perturbation_norm"]!.values, meta: meta)
    }
}
