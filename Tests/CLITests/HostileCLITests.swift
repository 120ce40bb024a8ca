import Foundation
import ModelIO
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Commands that write must never replace one of their inputs, however the output is spelled
/// (symlink, hard link, `..`); paths the shell passes as non-UTF-8 bytes and the longest legal
/// file names get accurate errors or work.
final class HostileCLITests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("hostile-cli") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func testOutputsThatAreInputsAreRefused() throws {
        // Copies, so a regression cannot damage the fixtures.
        let model = path("m.npz"), data = path("d.npz")
        try FileManager.default.copyItem(atPath: fixture("torch/cifar-resnet8.npz"), toPath: model)
        try Npz.write([("x", NumpyArray(float32s: [Float](repeating: 0, count: 3 * 32 * 32), shape: [1, 3, 32, 32])),
                       ("y", NumpyArray(int64s: [0], shape: [1]))], to: URL(fileURLWithPath: data))
        try FileManager.default.createSymbolicLink(atPath: path("link.npz"), withDestinationPath: model)
        XCTAssertEqual(link(model, path("hard.npz")), 0)
        XCTAssertEqual(link(model, path("hard.svg")), 0)
        try FileManager.default.createDirectory(atPath: path("sub"), withIntermediateDirectories: true)
        let before = try Data(contentsOf: URL(fileURLWithPath: model))
        let predict = ["predict", model, "--arch", "heo2019-resnet8", "--data", data, "--out"]
        let cases: [([String], [String])] = [
            (predict + [model], ["the output is the input file"]),
            (predict + [path("link.npz")], ["link.npz", "through a link"]),
            (predict + [path("hard.npz")], ["hard.npz", "hard link"]),
            (predict + [path("sub/../m.npz")], ["the output is the input file"]),
            (predict + [data], ["the output is the input file \(data)"]),
            (["generate", "--teacher", model, "--teacher-arch", "heo2019-resnet8", "--data", data, "--out", data], ["d.npz", "the output is the input"]),
            (["convert", model, path("hard.npz")], ["hard link"]),
            (["similarity", model, model, "--a-arch", "heo2019-resnet8", "--b-arch", "heo2019-resnet8", "--data", data,
              "--plot", path("hard.svg")], ["hard.svg", "hard link"]),
            (["distill", "--student", "heo2019-resnet8", "--teacher", model, "--teacher-arch", "heo2019-resnet8",
              "--data", data, "--out", path("link.npz"), "--epochs", "1"], ["link.npz", "the output is the input"]),
        ]
        for (args, mentions) in cases {
            let r = try runBSS(args)
            assertCleanFailure(r, mentions: mentions)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model)), before, "\(args) changed the model")
        }
    }

    /// The shell hands over `café.npy` spelled in Latin-1 (byte E9): Swift sees U+FFFD, and
    /// the error says why the existing file cannot be opened instead of "no such file".
    func testNonUTF8PathIsNotCalledMissing() throws {
        var raw = Array(dir.path.utf8) + Array("/caf".utf8) + [0xE9] + Array(".npz".utf8)
        raw.append(0)
        let fd = raw.withUnsafeBufferPointer { $0.baseAddress!.withMemoryRebound(to: CChar.self, capacity: raw.count) {
            open($0, O_CREAT | O_WRONLY, 0o644)
        } }
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "\"$0\" inspect \"$(printf '%s/caf\\351.npz' \"$1\")\" --arch heo2019-resnet8", try bssExecutable().path, dir.path]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertNotEqual(p.terminationStatus, 0)
        XCTAssertTrue(text.contains("not valid UTF-8"), text)
        XCTAssertFalse(text.contains("no such file"), text)

        // As an output, such a name would be written under other bytes (U+FFFD): refused.
        let q = Process()
        q.executableURL = URL(fileURLWithPath: "/bin/sh")
        q.arguments = ["-c", "\"$0\" convert \"$2\" \"$(printf '%s/out\\351.npz' \"$1\")\"", try bssExecutable().path, dir.path,
                       fixture("torch/cifar-resnet8.npz")]
        let qerr = Pipe()
        q.standardError = qerr
        q.standardOutput = Pipe()
        try q.run()
        let qtext = String(decoding: qerr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        q.waitUntilExit()
        XCTAssertNotEqual(q.terminationStatus, 0)
        XCTAssertTrue(qtext.contains("output name is not valid UTF-8"), qtext)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).count, 1, "only the input made above")
    }

    /// `convert` of an HDF5 state dict whose dataset is stored in another file used to copy
    /// that file's bytes into the export; now it is refused and nothing is written.
    func testHDF5ExternalStorageIsNotCopiedIntoAnExport() throws {
        let r = try runBSS(["convert", "external-storage.h5", path("out.npz")], in: URL(fileURLWithPath: fixture("hostile")))
        assertCleanFailure(r, mentions: ["external-storage.h5", "external file 'secret.bin'", "refused"])
        XCTAssertFalse(r.stderr.contains("SECRET") || r.stdout.contains("SECRET"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    /// One flipped bit makes libhdf5 1.10.8 segfault (Fixtures/scripts/make-hdf5-crash.py):
    /// the CLI reads HDF5 in a child process, so every verb fails with one line naming the
    /// file and writes nothing; in-process (BSS_HDF5_IN_PROCESS=1) the same file kills bss.
    func testLibHDF5CrashIsOneLineNamingTheFile() throws {
        let crash = fixture("hostile/libhdf5-crash.h5")
        let expected = ["libhdf5-crash.h5", "corrupted HDF5 file: the HDF5 library crashed reading it"]
        assertCleanFailure(try runBSS(["inspect", crash]), mentions: expected)
        assertCleanFailure(try runBSS(["convert", crash, path("out.npz")]), mentions: expected)
        assertCleanFailure(try runBSS(["predict", fixture("keras/sequential-mlp.h5"), "--data", crash, "--out", path("p.npz")]),
                           mentions: expected)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
        let inProcess = try runBSS(["inspect", crash], environment: ["BSS_HDF5_IN_PROCESS": "1", "SWIFT_BACKTRACE": "enable=no"])
        XCTAssertNotEqual(inProcess.status, 0)
        if inProcess.status == 1 { print("note: this libhdf5 no longer crashes on \(crash)") }
    }

    /// The isolated reader hands back a clean copy that reads exactly as the file itself.
    func testIsolatedHDF5ReadsAsInProcess() throws {
        for model in ["keras/sequential-mlp.h5", "keras/functional-cnn.keras", "keras/keras-layers.h5"] {
            let args = ["inspect", fixture(model)]
            let isolated = try runBSS(args)
            let inProcess = try runBSS(args, environment: ["BSS_HDF5_IN_PROCESS": "1"])
            XCTAssertEqual(isolated.status, 0, isolated.stderr)
            XCTAssertEqual(isolated.stdout, inProcess.stdout, model)
        }
    }

    /// NAME_MAX is 255 bytes; a 254-byte output name must work (its temporary file too).
    func testLongestLegalOutputName() throws {
        let name = String(repeating: "n", count: 250) + ".npz"
        let r = try runBSS(["convert", fixture("torch/cifar-resnet8.npz"), path(name)])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [name])
    }
}
