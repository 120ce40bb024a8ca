import CHDF5
import Foundation
import ModelCore

/// An open HDF5 file, on disk or in memory: the one handle for reading and writing
/// groups, datasets and attributes (see HDF5Group/HDF5Dataset/HDF5Attributes.swift).
///
/// ```swift
/// let f = try HDF5File(reading: url)
/// let (shape, kernel) = try f.readFloats("model_weights/dense/dense/kernel:0")
/// let names = try f.stringArrayAttribute("layer_names", at: "model_weights")
///
/// let w = try HDF5File(creating: url)            // truncates
/// try w.write(floats: [1, 2, 3, 4], shape: [2, 2], to: "layers/dense/vars/0")
/// try w.setAttribute("keras_version", string: "3.15.1", at: "/")
/// try w.close()
/// ```
///
/// Paths are HDF5 paths inside the file (`"a/b"` and `"/a/b"` are the same; `""` and `"/"`
/// are the root). Every failure is a `ModelIOError` naming the file and the path; HDF5's own
/// error stack is never printed. The file is closed by `close()` or, at the latest, `deinit`.
/// All HDF5 calls are serialised by `HDF5Lock`, so one instance may be shared across threads.
///
/// Limits: missing, non-HDF5 and truncated files are refused cleanly, but libhdf5 1.10.8 itself
/// is not hardened against *bit-flipped* metadata: fuzzing found segfaults inside the library
/// (`H5HG_read` for variable-length strings with a corrupt global heap, attribute iteration
/// over corrupt attribute messages). Untrusted files are therefore read in a separate process
/// when `HDF5Isolation` is on (the CLI's default; see HDF5Isolation.swift).
public final class HDF5File: @unchecked Sendable {
    /// The file as the user named it (or the label given to an in-memory image); used in errors.
    public let name: String
    /// Whether groups, datasets and attributes may be written.
    public let isWritable: Bool
    /// Whether the file lives only in memory (core driver, no backing store).
    public let isInMemory: Bool
    /// The HDF5 file id; -1 once closed. Read and written only while holding `HDF5Lock`.
    private var fileID: hid_t

    /// Opens an existing file on disk read-only.
    /// Throws `.notFound` if it does not exist, `.malformed` with "not an HDF5 file" if it
    /// lacks the HDF5 signature and "truncated or corrupt HDF5 file" if HDF5 cannot open it.
    ///
    /// The file is opened once and checked through that descriptor (`InputFile.open`); libhdf5
    /// opens the descriptor's file, not the name again. With `HDF5Isolation` on (the CLI's
    /// default) libhdf5 reads it in a child process and this opens the clean copy it returns.
    public convenience init(reading url: URL) throws {
        let name = url.relativePath
        let file = try InputFile.open(url, name: name)
        defer { file.close() }
        try HDF5Signature.check(file, name: name)
        if HDF5Isolation.isOn {
            try self.init(inProcessImage: try HDF5Isolation.cleanImage(of: file, name: name), name: name)
        } else {
            try self.init(descriptorOf: file, name: name)
        }
    }

    /// Opens the file behind `file`'s descriptor read-only, in this process.
    init(descriptorOf file: InputFile.Opened, name: String) throws {
        self.name = name
        isWritable = false
        isInMemory = false
        fileID = try HDF5Lock.run {
            let fapl = try Self.fileAccessList(name: name, image: nil)
            defer { H5Pclose(fapl) }
            let id = H5Fopen(file.descriptorPath, sh5_acc_rdonly(), fapl)
            if id < 0 { throw Self.openFailure(name: name, hdf5: HDF5Lock.takeErrorMessage()) }
            try Self.requireSelfContained(id, name: name)
            return id
        }
    }

    /// Creates a file on disk, replacing any existing file at `url`.
    public init(creating url: URL) throws {
        let name = url.relativePath
        self.name = name
        isWritable = true
        isInMemory = false
        fileID = try HDF5Lock.run {
            let fapl = try Self.fileAccessList(name: name, image: nil)
            defer { H5Pclose(fapl) }
            // The root group without timestamps too (HDF5Untimed).
            guard let fcpl = HDF5Untimed.creationList(sh5_p_file_create()) else {
                throw ModelIOError(.io, file: name, "cannot create file-creation list (\(HDF5Lock.takeErrorMessage()))")
            }
            defer { H5Pclose(fcpl) }
            let id = H5Fcreate(url.path, sh5_acc_trunc(), fcpl, fapl)
            if id < 0 {
                throw ModelIOError(.io, file: name, "cannot create HDF5 file (\(HDF5Lock.takeErrorMessage()))")
            }
            return id
        }
    }

    /// Opens the bytes of an HDF5 file (for example `model.weights.h5` inside a `.keras` zip)
    /// read-only. `name` labels the image in errors. With `HDF5Isolation` on, libhdf5 reads the
    /// bytes in a child process first (as for files) and this opens the clean copy.
    public convenience init(image: Data, name: String) throws {
        try HDF5Signature.check(image: image, name: name)
        if HDF5Isolation.isOn {
            try self.init(inProcessImage: try HDF5Isolation.cleanImage(of: image, name: name), name: name)
        } else {
            try self.init(inProcessImage: image, name: name)
        }
    }

    /// Opens `image` in memory, in this process, without a temporary file (in the reader child
    /// too: there the bytes are untrusted, and a crash only ends the child).
    init(inProcessImage image: Data, name: String) throws {
        self.name = name
        isWritable = false
        isInMemory = true
        fileID = try HDF5Lock.run {
            let fapl = try Self.fileAccessList(name: name, image: image)
            defer { H5Pclose(fapl) }
            let id = H5Fopen(Self.uniqueMemoryName(), sh5_acc_rdonly(), fapl)
            if id < 0 { throw Self.openFailure(name: name, hdf5: HDF5Lock.takeErrorMessage()) }
            try Self.requireSelfContained(id, name: name)
            return id
        }
    }

    /// Creates an empty writable file that lives only in memory; take its bytes with
    /// `imageData()`. `name` labels it in errors.
    public init(creatingInMemory name: String) throws {
        self.name = name
        isWritable = true
        isInMemory = true
        fileID = try HDF5Lock.run {
            let fapl = try Self.fileAccessList(name: name, image: nil, inMemory: true)
            defer { H5Pclose(fapl) }
            guard let fcpl = HDF5Untimed.creationList(sh5_p_file_create()) else {
                throw ModelIOError(.io, file: name, "cannot create file-creation list (\(HDF5Lock.takeErrorMessage()))")
            }
            defer { H5Pclose(fcpl) }
            let id = H5Fcreate(Self.uniqueMemoryName(), sh5_acc_trunc(), fcpl, fapl)
            if id < 0 {
                throw ModelIOError(.io, file: name, "cannot create in-memory HDF5 file (\(HDF5Lock.takeErrorMessage()))")
            }
            return id
        }
    }

    deinit { try? close() }

    /// Whether `close()` has been called.
    public var isClosed: Bool { HDF5Lock.run { fileID < 0 } }

    /// Writes buffered data to the file (or the in-memory image).
    public func flush() throws {
        try HDF5Lock.run {
            if H5Fflush(try id(), H5F_SCOPE_GLOBAL) < 0 { throw failure(.io, at: "/", "cannot flush") }
        }
    }

    /// The complete bytes of the file as it stands now (flushed first). Meant for in-memory
    /// files, whose bytes go straight into an archive; works for any open file.
    public func imageData() throws -> Data {
        try HDF5Lock.run {
            let id = try id()
            if H5Fflush(id, H5F_SCOPE_GLOBAL) < 0 { throw failure(.io, at: "/", "cannot flush") }
            let size = H5Fget_file_image(id, nil, 0)
            if size < 0 { throw failure(.io, at: "/", "cannot get the file image") }
            var data = Data(count: size)
            let got = data.withUnsafeMutableBytes { H5Fget_file_image(id, $0.baseAddress, size) }
            if got != size { throw failure(.io, at: "/", "cannot get the file image") }
            return data
        }
    }

    /// Closes the file; later calls are no-ops. Throws `.io` if pending data cannot be written.
    /// Objects opened internally are always closed before this returns (strong close degree).
    public func close() throws {
        try HDF5Lock.run {
            guard fileID >= 0 else { return }
            let id = fileID
            fileID = -1
            if H5Fclose(id) < 0 { throw failure(.io, at: nil, "cannot close HDF5 file") }
        }
    }

    // MARK: - Internal helpers shared by the other HDF5 files

    /// The open file id; throws if the file was closed (a use-after-close is a caller bug,
    /// but throwing keeps a long-running CLI alive). Call only while holding `HDF5Lock`.
    func id() throws -> hid_t {
        guard fileID >= 0 else { throw ModelIOError(.io, file: name, "HDF5 file used after close") }
        return fileID
    }

    /// A `ModelIOError` for the HDF5 call that just failed, with HDF5's innermost message
    /// appended. Must be called right after the failing call, before any other HDF5 call.
    func failure(_ kind: ModelIOError.Kind, at path: String?, _ message: String) -> ModelIOError {
        let detail = HDF5Lock.takeErrorMessage()
        let text = detail.isEmpty ? message : "\(message) (HDF5: \(detail))"
        return ModelIOError(kind, file: name, location: path.map(Self.displayPath), text)
    }

    /// A `ModelIOError` that does not come from an HDF5 call.
    func error(_ kind: ModelIOError.Kind, at path: String?, _ message: String) -> ModelIOError {
        ModelIOError(kind, file: name, location: path.map(Self.displayPath), message)
    }

    /// Throws unless the file was opened for writing.
    func requireWritable(_ path: String) throws {
        guard isWritable else { throw error(.io, at: path, "file is open read-only") }
    }

    /// The path as HDF5 wants it: the root is "/".
    static func hdf5Path(_ path: String) -> String { path.isEmpty ? "/" : path }

    /// The path as errors show it: "/" for the root, otherwise without a leading slash.
    static func displayPath(_ path: String) -> String {
        let trimmed = path.drop(while: { $0 == "/" })
        return trimmed.isEmpty ? "/" : String(trimmed)
    }

    // MARK: - Opening

    /// A file-access property list: strong close degree (closing the file closes every object,
    /// so `close()` really releases the file), plus the core driver for in-memory files.
    private static func fileAccessList(name: String, image: Data?, inMemory: Bool = false) throws -> hid_t {
        let fapl = H5Pcreate(sh5_p_file_access())
        guard fapl >= 0 else {
            throw ModelIOError(.io, file: name, "cannot create HDF5 file-access list (\(HDF5Lock.takeErrorMessage()))")
        }
        var ok = H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0
        if ok, image != nil || inMemory {
            // No backing store: nothing is ever written to disk. 64 KiB growth steps.
            ok = H5Pset_fapl_core(fapl, 64 * 1024, false) >= 0
        }
        if ok, let image {
            // H5Pset_file_image copies the bytes, so `image` need not outlive the call.
            ok = image.withUnsafeBytes { H5Pset_file_image(fapl, UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) } >= 0
        }
        guard ok else {
            let detail = HDF5Lock.takeErrorMessage()
            H5Pclose(fapl)
            throw ModelIOError(.io, file: name, "cannot configure HDF5 file access (\(detail))")
        }
        return fapl
    }

    /// A name for a core-driver file that is unique in this process and names no existing
    /// file: HDF5 treats two open core files with the same name as the same file, and refuses
    /// to open an image whose name exists on disk.
    private static func uniqueMemoryName() -> String {
        memoryCounter += 1
        return "bss-in-memory-\(processToken)/image-\(memoryCounter).h5"
    }

    /// Guarded by `HDF5Lock` (only touched inside `HDF5Lock.run`).
    nonisolated(unsafe) private static var memoryCounter = 0
    private static let processToken = UUID().uuidString

    /// The one-line error for a file that has the HDF5 signature but cannot be opened.
    private static func openFailure(name: String, hdf5 detail: String) -> ModelIOError {
        // HDF5 1.10 locks files on open; its message reads "unable to lock file, errno = ...".
        if detail.localizedCaseInsensitiveContains("unable to lock") {
            return ModelIOError(.io, file: name,
                                "cannot lock HDF5 file (\(detail)); is another process writing it? "
                                + "On file systems without locking set HDF5_USE_FILE_LOCKING=FALSE")
        }
        return ModelIOError(.malformed, file: name,
                            "truncated or corrupt HDF5 file" + (detail.isEmpty ? "" : " (HDF5: \(detail))"))
    }
}
