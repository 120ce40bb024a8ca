import Foundation
import Tensor
import ModelCore
import NumPy

/// Reads `DATA` arguments into a `DataSet` (inputs in the engine's NCHW, integer labels).
///
/// | `DATA` | read as |
/// |---|---|
/// | `.npz` | arrays `x` (any numeric dtype, samples first), optional `y` (labels) and `class_names` |
/// | `.npz` with `data`, `labels` | a downsampled ImageNet batch (`ImageNetDownsampled`) |
/// | `.h5`, `.hdf5` | datasets `x` and optional `y` at the root, attribute `class_names` (`DataHDF5`) |
/// | `.bin` | one CIFAR-10 or CIFAR-100 binary batch (`CIFARBinary`, variant by name and size) |
/// | a folder | the training split of the archive in it, or images (`DataFolder`, `ImageFolder`) |
/// | `.png`, `.jpg`, `.jpeg` | one unlabelled image (`ImageFolder`) |
///
/// Image formats (folders, single images, Tiny ImageNet) take `ReadOptions.imageSize`
/// (resizing as Pillow's bilinear `resize`) and `skipBadImages`; Tiny ImageNet takes
/// `classOrder`. Those options given for another format are an error.
/// | `…-images-idx3-ubyte[.gz]` | MNIST / Fashion-MNIST IDX images + the labels file next to them (`IDXFile`) |
///
/// Python pickles (the archives' "python versions") are refused: unpickling can run code.
/// Images stored NHWC or NCHW in `.npz`/`.h5` are read in the layout `stored` (the model's
/// own by default) and converted once; CIFAR, ImageNet and IDX files have a fixed layout of their own,
/// which wins. Then `Preprocessing` (scale, per-channel mean/std) is applied. Every problem
/// is a one-line `ModelIOError` naming the file: x/y length mismatch, empty data, wrong rank,
/// truncated files, bad magic numbers, NaN or infinite inputs (`NonFinite`); label ranges are checked against the model by
/// `DataSet.validate`.
public enum DataLoader {
    /// Extra readers registered by later ModelIO files: return nil when the file is not theirs.
    nonisolated(unsafe) public static var readers: [(URL) throws -> (x: NumpyArray, y: NumpyArray?)?] = []

    /// Arrays as a data file holds them, before layout conversion and preprocessing.
    public struct RawData {
        /// Inputs as stored (values unscaled), samples first.
        public var x: Tensor
        /// Whether the file stores `x` as integers (uint8 pixels): presets scale those by 1/255.
        public var xIsInteger: Bool
        public var y: [Int64]?
        /// Shape of the stored labels, checked to be `(N,)` or `(N, 1)`.
        public var yShape: [Int]?
        /// The layout the format fixes for `x` (CIFAR, IDX), or nil to use the caller's.
        public var layout: DataLayout?
        /// What was read, e.g. "CIFAR-10 binary batch".
        public var description: String
        /// Names of the classes, index = label, when the file (or the archive) has them.
        public var classNames: [String]?
        /// The format recognised.
        public var format: DataFormat
        /// Image files left out by `--skip-bad-images` (paths as given), in reading order.
        public var skippedImages: [String] = []
        /// Colour images converted to gray for a 1-channel model (`ImageColour`).
        public var grayConverted = 0
        /// How Tiny ImageNet's labels were numbered (nil for other formats).
        public var classOrder: ClassOrder?

        public init(x: Tensor, xIsInteger: Bool, y: [Int64]?, yShape: [Int]? = nil, layout: DataLayout?,
                    description: String, classNames: [String]? = nil, format: DataFormat = .arrays) {
            self.x = x; self.xIsInteger = xIsInteger; self.y = y
            self.yShape = yShape ?? y.map { [$0.count] }
            self.layout = layout; self.description = description
            self.classNames = classNames; self.format = format
        }
    }

    /// The formats `read` recognises.
    public enum DataFormat: String, Sendable {
        /// `.npz` / `.h5` arrays `x`, `y`.
        case arrays
        case cifar10 = "CIFAR-10 binary"
        case cifar100 = "CIFAR-100 binary"
        case imagenet = "downsampled ImageNet .npz"
        case idx = "IDX (MNIST)"
        /// JPEG/PNG files: a class-per-folder tree, a flat folder, or one image.
        case imageFolder = "image folder"
        case tinyImageNet = "Tiny ImageNet"
    }

    public static func load(_ path: String, stored: DataLayout, preprocessing: Preprocessing = .init(),
                            options: ReadOptions = .init()) throws -> DataSet {
        try make(try read(path, options: options), file: path, stored: stored, preprocessing: preprocessing)
    }

    /// Reads the arrays of any supported data file (see the type's table).
    public static func read(_ path: String, options: ReadOptions = .init()) throws -> RawData {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            if path.unicodeScalars.contains("\u{FFFD}") { throw InputFile.notFound(path: path) }
            throw ModelIOError(.notFound, file: path, "no such data file")
        }
        let raw = isDirectory.boolValue ? try DataFolder.read(path, options: options) : try readFile(path, options: options)
        // Integer pixels are always finite; float inputs with a NaN would poison every batch.
        if !raw.xIsInteger { try NonFinite.check(raw.x, file: path, key: "x", role: "inputs", sampleAxis: true) }
        try checkApplicable(options, format: raw.format, description: raw.description, file: path)
        return raw
    }

    /// Each option given must apply to the format read: one that would do nothing is an error.
    static func checkApplicable(_ options: ReadOptions, format: DataFormat, description: String, file path: String) throws {
        if let label = options.cifarLabel, format != .cifar100 {
            throw ModelIOError(.mismatch, file: path,
                               "--label \(label.rawValue) applies to CIFAR-100 binaries only; this is \(description)")
        }
        if let flag = options.imageOptionsGiven.first, format != .imageFolder && format != .tinyImageNet {
            throw ModelIOError(.mismatch, file: path, "\(flag) applies to image files (PNG/JPEG, image folders, Tiny ImageNet) only; this is \(description)")
        }
        if let order = options.classOrder, format != .tinyImageNet {
            throw ModelIOError(.mismatch, file: path, "--class-order \(order.rawValue) applies to Tiny ImageNet only; this is \(description)")
        }
    }

    static func readFile(_ path: String, options: ReadOptions) throws -> RawData {
        let url = URL(fileURLWithPath: path)
        // Before any probe opens it: a FIFO or device would block or never end.
        _ = try InputFile.checkRegular(url, name: path)
        for reader in readers {
            if let r = try reader(url) {
                return RawData(x: try r.x.tensor(file: path, key: "x"), xIsInteger: isInteger(r.x.dtype),
                               y: try r.y?.int64s(file: path, key: "y"), yShape: r.y?.shape, layout: nil,
                               description: "arrays x, y")
            }
        }
        if let p = pickleProtocol(url) { throw pickleError(path, protocolVersion: p) }
        if IDXFile.matches(path) { return try IDXFile.read(path) }
        switch url.pathExtension.lowercased() {
        case "npz": return try readNpz(url, file: path)
        case "h5", "hdf5": return try DataHDF5.read(url)
        case "png", "jpg", "jpeg":
            return try ImageFolder.assemble([.init(url: url, label: nil)], classNames: nil, file: path,
                                            description: "one image", format: .imageFolder, options: options,
                                            channels: options.channels)
        case "bin":
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            let variant = try CIFARBinary.variant(of: path, size: size, labelGiven: options.cifarLabel != nil)
            return try CIFARBinary.read([url], variant: variant, label: options.cifarLabel ?? .fine)
        default:
            throw ModelIOError(.unsupported, file: path,
                               "unknown data file type '.\(url.pathExtension)'; expected .npz or .h5 with x and y, a downsampled ImageNet .npz batch, CIFAR-10/CIFAR-100 binary batches (.bin or their folder), a PNG/JPEG image or folder of them, or MNIST IDX files (…-images-idx3-ubyte[.gz])")
        }
    }

    /// Builds a data set from arrays already read (kept for callers holding `NumpyArray`s).
    public static func make(x xa: NumpyArray, y ya: NumpyArray?, file: String, stored: DataLayout,
                            preprocessing: Preprocessing) throws -> DataSet {
        let raw = RawData(x: try xa.tensor(file: file, key: "x"), xIsInteger: isInteger(xa.dtype),
                          y: try ya?.int64s(file: file, key: "y"), yShape: ya?.shape, layout: nil, description: "arrays x, y")
        return try make(raw, file: file, stored: stored, preprocessing: preprocessing)
    }

    /// Checks ranks and lengths, converts to NCHW and applies `preprocessing`.
    public static func make(_ raw: consuming RawData, file: String, stored: DataLayout, preprocessing: Preprocessing) throws -> DataSet {
        // Take `x` out of `raw` so it is uniquely referenced: scaling in place must not copy
        // a 600 MB CIFAR training set.
        var raw = raw
        let fromImages = raw.format == .imageFolder || raw.format == .tinyImageNet
        let skipped = raw.skippedImages, grayConverted = raw.grayConverted
        var x = raw.x
        raw.x = Tensor(shape: [0])
        guard x.rank >= 2 else {
            throw ModelIOError(.mismatch, file: file, location: "x", "expected at least 2 axes (samples first), found shape \(x.shape)")
        }
        guard x.shape[0] > 0 else { throw ModelIOError(.mismatch, file: file, location: "x", "the data set is empty") }
        var labels: [Int]?
        if let y = raw.y {
            let shape = raw.yShape ?? [y.count]
            guard shape.count == 1 || (shape.count == 2 && shape[1] == 1) else {
                throw ModelIOError(.mismatch, file: file, location: "y", "expected integer labels of shape (N,), found \(shape)")
            }
            guard y.count == x.batch else {
                throw ModelIOError(.mismatch, file: file, location: "y", "\(y.count) labels for \(x.batch) samples in x")
            }
            labels = y.map { Int(clamping: $0) }
        }
        if let s = preprocessing.factor(integerValued: raw.xIsInteger), s != 1 {
            x.data.withUnsafeMutableBufferPointer { d in for i in d.indices { d[i] *= s } }
        }
        x = DataSet.convert(x, from: raw.layout ?? stored, to: .nchw)
        if let mean = preprocessing.mean, let std = preprocessing.std {
            try normalise(&x, mean: mean, std: std, file: file)
        }
        // The layout the user's framework expects outputs in is the caller's, even when the
        // file format fixed another one (a Keras model reading CIFAR binaries wants NHWC back).
        var data = DataSet(x: x, y: labels, file: file, storedLayout: stored)
        data.fromImageFiles = fromImages
        data.skippedImages = skipped
        data.grayConverted = grayConverted
        return data
    }

    // MARK: - Details

    /// `(x − mean[c]) / std[c]` per channel of an NCHW tensor; one value applies to all of
    /// a flat or single-channel input.
    static func normalise(_ x: inout Tensor, mean: [Float], std: [Float], file: String) throws {
        let c = x.rank == 4 ? x.shape[1] : 1
        guard mean.count == std.count, mean.count == c || mean.count == 1 else {
            throw ModelIOError(.mismatch, file: file, location: "x",
                               "normalisation has \(mean.count) channels, the data has \(c) (shape \(x.shape) after conversion to NCHW)")
        }
        let plane = x.rank == 4 ? x.shape[2] * x.shape[3] : x.sampleCount
        let channels = x.rank == 4 ? c : 1
        let n = x.batch
        x.data.withUnsafeMutableBufferPointer { d in
            for i in 0..<n {
                for ch in 0..<channels {
                    let m = mean.count == 1 ? mean[0] : mean[ch]
                    let s = std.count == 1 ? std[0] : std[ch]
                    let base = (i * channels + ch) * plane
                    // Subtract, then divide, as torchvision's Normalize does.
                    for j in base..<(base + plane) { d[j] = (d[j] - m) / s }
                }
            }
        }
    }

    static func readNpz(_ url: URL, file: String) throws -> RawData {
        let entries = try Npz.readDictionary(url)
        if ImageNetDownsampled.matches(Set(entries.keys)) { return try ImageNetDownsampled.read([url], first: entries) }
        guard let x = entries["x"] else {
            throw ModelIOError(.notFound, file: file, location: "x",
                               "no array 'x' (found: \(entries.isEmpty ? "nothing" : entries.keys.sorted().joined(separator: ", "))); expected x and y, or data and labels of a downsampled ImageNet batch")
        }
        let y = entries["y"]
        var names: [String]?
        if let n = entries["class_names"] {
            guard n.shape.count == 1, let strings = n.strings() else {
                throw ModelIOError(.mismatch, file: file, location: "class_names",
                                   "expected a 1-D array of strings (numpy <U), found \(n.dtype.descr) of shape \(n.shape)")
            }
            names = strings
        }
        return RawData(x: try x.tensor(file: file, key: "x"), xIsInteger: isInteger(x.dtype),
                       y: try y?.int64s(file: file, key: "y"), yShape: y?.shape, layout: nil,
                       description: "npz arrays x, y", classNames: names)
    }

    /// The pickle protocol (2-5) when `url` is a file starting with a pickle's PROTO opcode.
    static func pickleProtocol(_ url: URL) -> UInt8? {
        guard let h = FileHandle(forReadingAtPath: url.path) else { return nil }
        defer { try? h.close() }
        let head = [UInt8]((try? h.read(upToCount: 2)) ?? Data())
        guard head.count == 2, head[0] == 0x80, (2...5).contains(head[1]) else { return nil }
        return head[1]
    }

    /// Pickles are refused: unpickling runs whatever code the file names.
    static func pickleError(_ file: String, protocolVersion: UInt8) -> ModelIOError {
        ModelIOError(.unsupported, file: file,
                     "a Python pickle (protocol \(protocolVersion)), which bss does not read since unpickling can run code; use the archive's .npz release (downsampled ImageNet: Imagenet32_train_npz.zip / Imagenet32_val_npz.zip, or the 64x64 ones) or binary version (cifar-10-binary.tar.gz, cifar-100-binary.tar.gz), or save it with numpy.savez(OUT.npz, x=..., y=...)")
    }

    static func isInteger(_ dtype: NumpyArray.DType) -> Bool {
        switch dtype {
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .bool: return true
        default: return false
        }
    }
}
