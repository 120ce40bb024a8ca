import Foundation
import XCTest
import ModelIO
import TestSupport

/// `predict`/`eval` on CIFAR-100 binaries and downsampled ImageNet batches give exactly what
/// they give on the same arrays (as numpy reads them) saved as `.npz`; `bss data inspect` and
/// `bss data convert`; one-line errors for malformed files.
final class DataCommandTests: XCTestCase {
    func data(_ name: String) -> String { fixture("datasets/" + name) }
    var expected: [String: NumpyArray] { (try? Npz.readDictionary(URL(fileURLWithPath: fixture("datasets/expected.npz")))) ?? [:] }

    /// Runs predict and eval on `source` and on `arrays`; asserts identical logits and metrics.
    func assertSameResults(_ source: [String], _ arrays: String, model: String, _ what: String) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let modelArgs = [fixture("datasets/\(model).npz"), "--arch", fixture("datasets/\(model).json"), "--normalize", "cifar10"]
        var logits: [[Float]] = []
        var evals: [String] = []
        for (i, d) in [source, ["--data", arrays]].enumerated() {
            let out = dir.appendingPathComponent("logits\(i).npz").path
            let p = try runBSS(["predict"] + modelArgs + d + ["--out", out])
            XCTAssertEqual(p.status, 0, p.stderr)
            logits.append(try XCTUnwrap(Npz.readDictionary(URL(fileURLWithPath: out))["logits"]).floats())
            // Text, not --json: a 1000-class confusion matrix is 9 MB of JSON.
            let e = try runBSS(["eval"] + modelArgs + d)
            XCTAssertEqual(e.status, 0, e.stderr)
            evals.append(e.stdout.split(separator: "\n").filter { !$0.hasPrefix("data:") }.joined(separator: "\n"))
        }
        XCTAssertFalse(logits[0].isEmpty)
        XCTAssertEqual(logits[0], logits[1], what)
        XCTAssertTrue(evals[0].contains("accuracy:"), evals[0])
        XCTAssertEqual(evals[0], evals[1], what)
    }

    func arrays(_ x: String, _ y: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent("\(x).npz")
        try Npz.write([("x", try XCTUnwrap(expected[x])), ("y", try XCTUnwrap(expected[y]))], to: url)
        return url.path
    }

    func testPredictAndEvalOnCIFAR100EqualTheArrays() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try assertSameResults(["--data", data("cifar100/train.bin")], try arrays("cifar100_train_x", "cifar100_train_fine", in: dir),
                              model: "tiny-c100", "CIFAR-100 fine")
        try assertSameResults(["--data", data("cifar100"), "--label", "coarse"],
                              try arrays("cifar100_train_x", "cifar100_train_coarse", in: dir), model: "tiny-c100", "CIFAR-100 coarse")
    }

    func testPredictAndEvalOnImageNetEqualTheArrays() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try assertSameResults(["--data", data("imagenet32")], try arrays("imagenet32_train_x", "imagenet32_train_y", in: dir),
                              model: "tiny-c1000", "ImageNet folder")
        try assertSameResults(["--data", data("imagenet32/val_data.npz")], try arrays("imagenet32_val_x", "imagenet32_val_y", in: dir),
                              model: "tiny-c1000", "ImageNet val")
    }

    func testPredictAndEvalOnImageFoldersEqualTheArrays() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let images = try Npz.readDictionary(URL(fileURLWithPath: fixture("images/expected-images.npz")))
        func arrays(_ x: String, _ y: String) throws -> String {
            let url = dir.appendingPathComponent("\(x).npz")
            try Npz.write([("x", try XCTUnwrap(images[x])), ("y", try XCTUnwrap(images[y]))], to: url)
            return url.path
        }
        try assertSameResults(["--data", fixture("images/folder")], try arrays("folder_x", "folder_y"), model: "tiny-c100", "image folder")
        try assertSameResults(["--data", fixture("images/tiny"), "--class-order", "sorted"], try arrays("tiny_train_x", "tiny_train_y"),
                              model: "tiny-c100", "Tiny ImageNet")
        try assertSameResults(["--data", fixture("images/tiny"), "--class-order", "wnids"], try arrays("tiny_train_x", "tiny_train_y_wnids"),
                              model: "tiny-c100", "Tiny ImageNet, wnids.txt order")
        assertCleanFailure(try runBSS(["data", "inspect", fixture("images/tiny")]), mentions: ["--class-order wnids", "--class-order sorted"])
        assertCleanFailure(try runBSS(["data", "inspect", fixture("images/bad/mixed-size")]), mentions: ["1.png", "--image-size"])
        assertCleanFailure(try runBSS(["data", "inspect", fixture("images/bad/truncated.jpg")]), mentions: ["truncated.jpg", "Premature end"])
    }

    func testColourImagesAreConvertedToGrayForAOneChannelModel() throws {
        // The digits CNN reads 1x8x8: the colour images of images/folder become gray as
        // Pillow's convert("L") makes them, then 8x8 (Fixtures/images/expected-convert.npz).
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ex = try Npz.readDictionary(URL(fileURLWithPath: fixture("images/expected-convert.npz")))
        let arrays = dir.appendingPathComponent("gray.npz")
        try Npz.write([("x", try XCTUnwrap(ex["folder_L8_x"])), ("y", try XCTUnwrap(ex["folder_L_y"]))], to: arrays)
        let model = fixture("digits/teacher-cnn.keras")
        var logits: [[Float]] = []
        for (i, d) in [["--data", fixture("images/folder"), "--image-size", "8,8"], ["--data", arrays.path, "--data-layout", "nchw"]].enumerated() {
            let out = dir.appendingPathComponent("logits\(i).npz").path
            let p = try runBSS(["predict", model] + d + ["--out", out])
            XCTAssertEqual(p.status, 0, p.stderr)
            if i == 0 { XCTAssertTrue(p.stderr.contains("converted 5 colour images") && p.stderr.contains("convert(\"L\")"), p.stderr) }
            logits.append(try XCTUnwrap(Npz.readDictionary(URL(fileURLWithPath: out))["logits"]).floats())
        }
        XCTAssertFalse(logits[0].isEmpty)
        XCTAssertEqual(logits[0], logits[1])
        let e = try runBSS(["eval", model, "--data", fixture("images/folder"), "--image-size", "8,8"])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(e.stderr.contains("converted 5 colour images"), e.stderr)
    }

    func testImageSizeSkipAndClassOrderFlags() throws {
        // A 40x50 image for a 3x32x32 model: the error says what to pass.
        assertCleanFailure(try runBSS(["eval", data("tiny-c100.npz"), "--arch", data("tiny-c100.json"), "--data", fixture("images/resize/folder")]),
                           mentions: ["--image-size"])
        assertCleanFailure(try runBSS(["predict", data("tiny-c100.npz"), "--arch", data("tiny-c100.json"), "--data", fixture("images/resize/rgb.png"),
                                       "--out", temporaryDirectory().appendingPathComponent("l.npz").path]),
                           mentions: ["rgb.png", "[3, 40, 50]", "--image-size 32,32"])
        let ok = try runBSS(["eval", data("tiny-c100.npz"), "--arch", data("tiny-c100.json"), "--data", fixture("images/resize/folder"),
                             "--image-size", "32,32", "--json"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let inspect = try runBSS(["data", "inspect", fixture("images/tiny"), "--class-order", "wnids", "--json"])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let info = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(info["class_order"] as? String, "wnids")
        let skipped = try runBSS(["data", "inspect", fixture("images/bad/skip"), "--skip-bad-images", "--json"])
        XCTAssertEqual(skipped.status, 0, skipped.stderr)
        let s = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(skipped.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(s["samples"] as? Int, 2)
        XCTAssertEqual((s["skipped_images"] as? [String])?.count, 3)
        assertCleanFailure(try runBSS(["data", "inspect", fixture("images/bad/skip")]), mentions: ["1.png", "0 bytes"])
    }

    func testInspectShowsFormatClassesAndNames() throws {
        let r = try runBSS(["data", "inspect", data("cifar100/train.bin"), "--label", "coarse"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for s in ["CIFAR-100 binary batch, coarse labels", "samples:      20", "[3, 32, 32]", "0.0 ... 255.0", "coarse-19", "20 class names"] {
            XCTAssertTrue(r.stdout.contains(s), "\(s) in \(r.stdout)")
        }
        let j = try runBSS(["data", "inspect", data("imagenet32"), "--json"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(obj["samples"] as? Int, 20)
        XCTAssertEqual(obj["sample_shape"] as? [Int], [3, 32, 32])
        XCTAssertEqual(obj["format"] as? String, "downsampled ImageNet .npz")
        let classes = try XCTUnwrap(obj["classes"] as? [[String: Any]])
        XCTAssertEqual(classes.map { $0["count"] as? Int ?? 0 }.reduce(0, +), 20)
        XCTAssertEqual(classes.first?["label"] as? Int, 0)
    }

    func testConvertWritesArraysThatEvaluateTheSame() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["c100.npz", "c100.h5"] {
            let out = dir.appendingPathComponent(name).path
            let r = try runBSS(["data", "convert", data("cifar100/test.bin"), out])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("class_names 100"), r.stderr)
            try assertSameResults(["--data", data("cifar100/test.bin")], out, model: "tiny-c100", name)
            let back = try runBSS(["data", "inspect", out])
            XCTAssertTrue(back.stdout.contains("fine-"), back.stdout)
        }
        let bad = try runBSS(["data", "convert", data("cifar100/test.bin"), dir.appendingPathComponent("x.txt").path])
        XCTAssertNotEqual(bad.status, 0)
        // A failed conversion leaves nothing behind.
        let out = dir.appendingPathComponent("bad.npz").path
        assertCleanFailure(try runBSS(["data", "convert", data("bad/truncated/train.bin"), out]), mentions: ["truncated"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// Large sets stream (docs/design.md, "Bounded memory for large data sets"): with chunks of
    /// 2 samples, `generate` (with and without --limit) and `data convert` give exactly what they
    /// give on the same images held whole in an .npz; `distill` on images trains the student it
    /// trains on their arrays.
    func testStreamedVerbsEqualTheWholeSet() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let images = fixture("images/folder")
        let arrays = dir.appendingPathComponent("folder.npz").path
        let small = ["BSS_DATA_CHUNK_SIZE": "2"]
        let c = try runBSS(["data", "convert", images, arrays], environment: small)
        XCTAssertEqual(c.status, 0, c.stderr)
        let whole = dir.appendingPathComponent("whole.npz")
        try DataWriter.write(try DataLoader.read(images), to: whole)
        XCTAssertEqual(try Npz.readDictionary(URL(fileURLWithPath: arrays)), try Npz.readDictionary(whole))
        let teacher = ["--teacher", data("tiny-c1000.npz"), "--teacher-arch", data("tiny-c1000.json")]
        for extra in [[], ["--limit", "3"]] {
            var outputs: [[String: NumpyArray]] = []
            for (i, d) in [images, arrays].enumerated() {
                let out = dir.appendingPathComponent("bss\(i).npz").path
                let r = try runBSS(["generate"] + teacher + ["--data", d, "--base", "all", "--batch-size", "2", "--bss-max-steps", "3",
                                                             "--out", out] + extra, environment: small)
                XCTAssertEqual(r.status, 0, r.stderr)
                var o = try Npz.readDictionary(URL(fileURLWithPath: out))
                o["meta"] = nil   // names the data file
                outputs.append(o)
            }
            XCTAssertEqual(outputs[0], outputs[1], "generate \(extra)")
            XCTAssertEqual(outputs[0]["base_index"]?.shape.first, extra.isEmpty ? 7 : 3)
        }
    }

    /// A file h5py wrote with libver="latest" that libhdf5 1.10 cannot open: the isolated
    /// reader's error names the file, the dataset, the cause and the fix.
    func testNewerHDF5FormatIsOneClearLine() throws {
        assertCleanFailure(try runBSS(["data", "inspect", fixture("hdf5/libver-latest.h5")]),
                           mentions: ["libver-latest.h5", "newer HDF5 file format", "libver=\"earliest\""])
    }

    func testMalformedFilesGiveOneLineErrors() throws {
        let cases: [(String, [String])] = [
            ("bad/truncated/train.bin", ["train.bin", "truncated CIFAR-100 batch"]),
            ("bad/fine-range/test.bin", ["test.bin", "fine label byte 100"]),
            ("bad/imagenet-label0.npz", ["imagenet-label0.npz", "label 0 at row 2"]),
            ("bad/imagenet-label1001.npz", ["imagenet-label1001.npz", "label 1001"]),
            ("bad/train_data_batch_1", ["train_data_batch_1", "pickle"]),
            ("bad/named-cifar100/train.bin", ["train.bin", "data_batch_N.bin"]),
        ]
        for (file, mentions) in cases {
            assertCleanFailure(try runBSS(["eval", data("tiny-c100.npz"), "--arch", data("tiny-c100.json"), "--data", data(file)]),
                               mentions: mentions)
            assertCleanFailure(try runBSS(["data", "inspect", data(file)]), mentions: mentions)
        }
        assertCleanFailure(try runBSS(["data", "inspect", fixture("data-formats/cifar/test_batch.bin"), "--label", "fine"]),
                           mentions: ["--label fine", "CIFAR-100"])
    }

    /// `--label` reaches distill's data and val, and lands in the saved config.
    func testDistillReadsCIFAR100CoarseLabels() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("s.npz").path
        let r = try runBSS(["distill", "--teacher", data("tiny-c100.npz"), "--teacher-arch", data("tiny-c100.json"),
                            "--student", data("tiny-c100.json"), "--data", data("cifar100/train.bin"),
                            "--val", data("cifar100/test.bin"), "--label", "coarse", "--normalize", "cifar10",
                            "--epochs", "1", "--batch-size", "10", "--bss-per-batch", "2", "--threads", "1", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = try String(contentsOfFile: dir.appendingPathComponent("s.npz.config.yaml").path, encoding: .utf8)
        XCTAssertTrue(config.contains("label: \"coarse\""), config)
        let wrong = try runBSS(["distill", "--teacher", data("tiny-c100.npz"), "--teacher-arch", data("tiny-c100.json"),
                                "--student", data("tiny-c100.json"), "--data", data("imagenet32/val_data.npz"),
                                "--label", "fine", "--epochs", "1", "--out", dir.appendingPathComponent("t.npz").path])
        assertCleanFailure(wrong, mentions: ["--label fine", "CIFAR-100"])
    }

    func testEveryDataCommandTakesLabel() throws {
        for command in ["predict", "eval", "generate", "distill", "similarity"] {
            let r = try runBSS([command, "--help"])
            XCTAssertTrue(r.stdout.contains("--label"), "\(command) --help: \(r.stdout)")
        }
    }
}
