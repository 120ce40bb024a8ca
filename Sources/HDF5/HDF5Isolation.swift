import Foundation
import ModelCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads untrusted HDF5 files in a child process, so that a crash inside libhdf5 cannot take
/// bss down.
///
/// libhdf5 1.10 segfaults on some bit-flipped metadata (docs/formats.md, "HDF5"). With
/// isolation on, `HDF5File(reading:)` and `HDF5File(image:name:)` hand the file's descriptor
/// to a child (the same executable, run as `<executable> __hdf5-reader`), which opens it with
/// libhdf5, reads every group, dataset and attribute, and writes them into a fresh in-memory
/// HDF5 file (`HDF5CleanCopy`) whose bytes it returns through a pipe. The parent opens that
/// clean copy in memory: its metadata was written by libhdf5 from validated values, never
/// copied from the untrusted file. If the child dies of a signal, the parent throws one line
/// naming the file ("corrupted HDF5 file: the HDF5 library crashed reading it"); refusals the
/// child makes (external storage, unknown filters, bad types, the memory budget) come back as
/// the same `ModelIOError` the in-process reader would throw.
///
/// Off by default, so the library reads in-process (tests, trusted files); the CLI turns it on
/// at start-up (`BSS_HDF5_IN_PROCESS=1` turns it off again) and dispatches the hidden
/// subcommand to `childMain`. Cost: the whole file is read and re-encoded once per file
/// (docs/formats.md, "HDF5" gives the figures).
public enum HDF5Isolation {
    /// The hidden first argument that makes the executable a reader child.
    public static let childArgument = "__hdf5-reader"

    private static let lock = NSLock()
    nonisolated(unsafe) private static var executable: String?
    nonisolated(unsafe) private static var cached: (key: [UInt64], result: Result<Data, ModelIOError>)?

    /// Turns isolation on with `executable` as the reader (it must call `childMain` when its
    /// first argument is `childArgument`), or off with nil.
    public static func enable(executable path: String?) {
        lock.lock(); defer { lock.unlock() }
        executable = path
        cached = nil
    }

    /// Whether HDF5 input is read in a child process.
    public static var isOn: Bool {
        lock.lock(); defer { lock.unlock() }
        return executable != nil
    }

    /// The clean copy of the opened file `file`. The last file's result (copy or error) is
    /// kept, keyed by device, inode, size and modification time: format probes open a file
    /// that is then opened again to be read.
    static func cleanImage(of file: InputFile.Opened, name: String) throws -> Data {
        let key = [file.device, file.inode, file.size, UInt64(bitPattern: Int64(file.modified.tv_sec)),
                   UInt64(file.modified.tv_nsec)]
        lock.lock()
        let hit = cached.flatMap { $0.key == key ? $0.result : nil }
        lock.unlock()
        if let hit {
            // The cached result names the file as first given; errors name it as given now.
            switch hit {
            case .success(let data): return data
            case .failure(var e): e.file = name; throw e
            }
        }
        let result: Result<Data, ModelIOError>
        do { result = .success(try runChild(input: file.fd, name: name, inMemory: false)) } catch let e as ModelIOError {
            result = .failure(e)
        }
        lock.lock()
        cached = (key, result)
        lock.unlock()
        return try result.get()
    }

    /// The clean copy of an HDF5 image held in memory (a `.keras` archive's weights member):
    /// the bytes go to the child through an unlinked temporary file.
    static func cleanImage(of image: Data, name: String) throws -> Data {
        var template = Array((NSTemporaryDirectory() + "/bss-hdf5-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw ModelIOError(.io, file: name, "cannot create a temporary file for the HDF5 reader: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        unlink(template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        var written = 0
        while written < image.count {
            let n = image.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelIOError(.io, file: name, "cannot write a temporary file for the HDF5 reader: \(String(cString: strerror(errno)))")
            }
            written += n
        }
        lseek(fd, 0, SEEK_SET)
        // An unlinked file has no path libhdf5 can resolve: the child reads it into memory.
        return try runChild(input: fd, name: name, inMemory: true)
    }

    // MARK: - Parent side

    /// Runs the reader with `input` as its standard input and returns the clean image.
    private static func runChild(input: Int32, name: String, inMemory: Bool) throws -> Data {
        lock.lock()
        let executable = executable
        lock.unlock()
        guard let executable else { preconditionFailure("HDF5Isolation.runChild with isolation off") }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            throw ModelIOError(.io, file: name, "cannot start the HDF5 reader: \(String(cString: strerror(errno)))")
        }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        defer { close(readEnd) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        // libhdf5 and the Swift runtime print nothing useful to users on a crash.
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, readEnd)
        let arguments = [executable, childArgument, name, String(MemoryBudget.bytes), inMemory ? "image" : "file"]
        // No crash report from the Swift runtime: it is slow and the parent reports the crash.
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        close(writeEnd)
        guard status == 0 else {
            throw ModelIOError(.io, file: name, "cannot start the HDF5 reader (\(executable)): \(String(cString: strerror(status)))")
        }
        let output: Data
        do { output = try InputFile.readAll(fd: readEnd, sizeHint: 1 << 16, label: name) } catch {
            kill(pid, SIGKILL)
            _ = waitForChild(pid)
            throw error
        }
        let exit = waitForChild(pid)
        return try HDF5ReaderReply.decode(output, exit: exit, name: name)
    }

    /// The child's wait status (retrying on EINTR).
    private static func waitForChild(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status
    }

    // MARK: - Child side

    /// The reader child: opens standard input with libhdf5 (in this process), writes the clean
    /// copy or the error to standard output, and exits. `arguments` are those after
    /// `childArgument`: the file's name for errors, the memory budget in bytes, and `file`
    /// (open standard input's file by its descriptor) or `image` (read it into memory first).
    public static func childMain(_ arguments: [String]) -> Never {
        guard arguments.count == 3, let budget = Int(arguments[1]), budget > 0, ["file", "image"].contains(arguments[2]) else {
            FileHandle.standardError.write(Data("bss: error: \(childArgument) is internal to bss\n".utf8))
            exit(2)
        }
        MemoryBudget.bytes = budget
        let name = arguments[0]
        let reply: Data
        do {
            var info = stat()
            guard fstat(0, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
                throw ModelIOError(.io, file: name, "the HDF5 reader's input is not a regular file")
            }
            let input = InputFile.Opened(fd: 0, size: UInt64(info.st_size), device: UInt64(info.st_dev),
                                         inode: UInt64(info.st_ino), modified: info.st_mtim)
            let source = arguments[2] == "image"
                ? try HDF5File(inProcessImage: try InputFile.readAll(fd: 0, sizeHint: input.size, label: name), name: name)
                : try HDF5File(descriptorOf: input, name: name)
            reply = HDF5ReaderReply.encode(.success(try HDF5CleanCopy.image(of: source)))
        } catch let e as ModelIOError {
            reply = HDF5ReaderReply.encode(.failure(e))
        } catch {
            reply = HDF5ReaderReply.encode(.failure(ModelIOError(.malformed, file: name, "\(error)")))
        }
        FileHandle.standardOutput.write(reply)
        exit(0)
    }
}
