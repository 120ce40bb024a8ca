import Foundation
import Report
import TestSupport
import XCTest

/// `bss report` end to end from the bundled digits teacher and data: a small BSS data set,
/// a short distillation run (with --tensorboard), two similarity reports and an experiment
/// folder are made here, then reported on, alone and together. The pages are opened in
/// headless Chromium when it is installed (skipped with a message otherwise).
final class ReportCommandTests: XCTestCase {
    /// The inputs, made once for the whole class.
    struct Inputs { var dir: URL; var dataset, vectors, run, similarity, experiment: String }
    nonisolated(unsafe) static var made: Inputs?

    static func inputs() throws -> Inputs {
        if let made { return made }
        let dir = temporaryDirectory("report-cli")
        func p(_ n: String) -> String { dir.appendingPathComponent(n).path }
        let teacher = ["--teacher", fixture("distill/digits-teacher.npz")]
        let arch = fixture("distill/digits-teacher.json")
        let data = fixture("digits/digits-test.npz")
        func run(_ args: [String]) throws -> String {
            let r = try runBSS(args)
            XCTAssertEqual(r.status, 0, "bss \(args.joined(separator: " ")): \(r.stderr)")
            return r.stdout
        }
        _ = try run(["generate"] + teacher + ["--arch", arch, "--data", data, "--out", p("bss.npz"), "--targets", "all", "--limit", "30", "--threads", "1"])
        // Vector samples: the MLP reads the digits as 64 values.
        _ = try run(["generate", "--teacher", fixture("torch/mlp-64-48-10.npz"), "--arch", fixture("torch/mlp-64-48-10.json"),
                     "--data", data, "--out", p("vectors.npz"), "--targets", "all", "--limit", "10", "--threads", "1"])
        try FileManager.default.createDirectory(atPath: p("run"), withIntermediateDirectories: true)
        _ = try run(["distill"] + teacher + ["--teacher-arch", arch, "--data", fixture("digits/digits-train.npz"), "--val", data,
                                             "--train-fraction", "0.1", "--batch-size", "32", "--bss-per-batch", "8", "--threads", "1",
                                             "--student", "mlp:64-48-10", "--out", p("run/student.npz"), "--epochs", "2",
                                             "--tensorboard", p("run/tb")])
        let pairs = try run(["similarity", fixture("distill/digits-teacher.npz"), p("run/student.npz"), "--a-arch", arch, "--b-arch", "mlp:64-48-10",
                             "--data", data, "--limit", "20", "--json", "--pairs", "--threads", "1"])
        try pairs.write(toFile: p("run/student.similarity.json"), atomically: true, encoding: .utf8)
        let sim = try run(["similarity", "--a-bss", p("bss.npz"), "--b-bss", p("bss.npz"), "--json"])
        try sim.write(toFile: p("sim.json"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: p("experiment"), withIntermediateDirectories: true)
        var rows: [String] = []
        for (m, gain) in [("original", 0.0), ("hinton", 0.01), ("bss", 0.02)] {
            for f in [1.0, 0.5, 0.1] {
                for seed in 0..<2 {
                    let acc = 0.8 * f.squareRoot() + gain + 0.001 * Double(seed)
                    let sims = m == "original" ? "null" : String(0.6 + gain)
                    rows.append("{\"method\": \"\(m)\", \"attack\": \(m == "bss" ? "\"bss\"" : "null"), \"fraction\": \(f), \"seed\": \(seed), \"accuracy\": \(acc), \"magsim\": \(sims), \"angsim\": \(sims)}")
                }
            }
        }
        try "{\"format\": \"bss-experiment-results\", \"format_version\": 1, \"title\": \"test\", \"rows\": [\n\(rows.joined(separator: ",\n"))]}\n"
            .write(toFile: p("experiment/results.json"), atomically: true, encoding: .utf8)
        made = Inputs(dir: dir, dataset: p("bss.npz"), vectors: p("vectors.npz"), run: p("run"), similarity: p("sim.json"), experiment: p("experiment"))
        return made!
    }

    func report(_ inputs: [String], name: String) throws -> (path: String, html: String) {
        let out = try Self.inputs().dir.appendingPathComponent(name).path
        let r = try runBSS(["report"] + inputs + ["--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        return (out, try String(contentsOfFile: out, encoding: .utf8))
    }

    /// Nothing on the page comes from elsewhere.
    func assertSelfContained(_ html: String, file: StaticString = #filePath, line: UInt = #line) {
        for bad in ["src=\"http", "href=\"http", "<link", "@import", "url(", "<script src", "@font-face"] {
            XCTAssertFalse(html.contains(bad), "\(bad) in the report", file: file, line: line)
        }
        let urls = html.components(separatedBy: "http").dropFirst().filter { !$0.hasPrefix("://www.w3.org/2000/svg\"") }
        XCTAssertEqual(urls.count, 0, "links besides the SVG namespace", file: file, line: line)
    }

    func testEveryKindOfInput() throws {
        let i = try Self.inputs()
        let (_, html) = try report([i.dataset, i.run, i.similarity, i.experiment], name: "all.html")
        assertSelfContained(html)
        for kind in ["class=\"dataset\"", "class=\"run\"", "class=\"similarity\"", "class=\"experiment\""] {
            XCTAssertTrue(html.contains(kind), kind)
        }
        XCTAssertGreaterThan(html.components(separatedBy: "<img src=\"data:image/png;base64,").count - 1, 30, "base, BSS and δ images")
        for text in ["Acceptance by base and target class", "Steps", "Perturbation norm", "Target probability", "Loss terms",
                     "Learning rate", "Loss weights", "Boundary supporting samples per epoch", "Confusion matrix",
                     "Per-class accuracy", "MagSim", "Accuracy gain over Original", "δ (input units)"] {
            XCTAssertTrue(html.contains(text), text)
        }
        // The run's similarity (with per-pair values) is matched to its student and plotted.
        XCTAssertTrue(html.contains("boundary similarity to the teacher</td><td>MagSim 0."), "MagSim/AngSim in the run section")
        XCTAssertFalse(html.contains("no per-pair distances"))
        XCTAssertFalse(html.contains("class=\"note\">The source data"), "base images found")
    }

    func testVectorSamplesAsBarsAndRunWithoutEvaluation() throws {
        let i = try Self.inputs()
        let (_, vectors) = try report([i.vectors], name: "vectors.html")
        XCTAssertTrue(vectors.contains("feature index"))
        XCTAssertFalse(vectors.contains("<img"), "vector samples are bar plots, not images")
        let out = i.dir.appendingPathComponent("no-eval.html").path
        let r = try runBSS(["report", i.run, "--no-eval", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertTrue(html.contains("Evaluation skipped (--no-eval)"))
        XCTAssertFalse(html.contains("Confusion matrix"))
    }

    /// The PNG encoder's chunks: signature, IHDR, CRC-32 of each chunk, and an IDAT that zlib
    /// (Python's, when present) inflates to the filtered scanlines.
    func testPNGChunks() throws {
        let pixels: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90]
        let png = [UInt8](PNG.encode(width: 3, height: 2, channels: 3, pixels: pixels))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        var at = 8, types: [String] = [], idat: [UInt8] = []
        while at < png.count {
            let n = Int(png[at]) << 24 | Int(png[at + 1]) << 16 | Int(png[at + 2]) << 8 | Int(png[at + 3])
            let type = String(decoding: png[(at + 4)..<(at + 8)], as: UTF8.self)
            types.append(type)
            if type == "IHDR" { XCTAssertEqual(Array(png[(at + 8)..<(at + 21)]), [0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0, 0, 0]) }
            if type == "IDAT" { idat = Array(png[(at + 8)..<(at + 8 + n)]) }
            at += 12 + n
        }
        XCTAssertEqual(types, ["IHDR", "IDAT", "IEND"])
        XCTAssertEqual(at, png.count)
        let script = "import sys, zlib; print(list(zlib.decompress(bytes.fromhex(sys.argv[1]))))"
        let out = try python(script, [idat.map { String(format: "%02x", $0) }.joined()])
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "\([0] + pixels[0..<9] + [0] + pixels[9...])".replacingOccurrences(of: "ArraySlice", with: ""))
    }

    func testBadInputsAreOneLineErrorsWithoutOutput() throws {
        let i = try Self.inputs()
        let out = i.dir.appendingPathComponent("bad.html").path
        let bad = i.dir.appendingPathComponent("bad-experiment")
        try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
        try "{\"rows\": [{\"method\": \"bss\", \"attack\": null, \"fraction\": 2, \"seed\": 0, \"accuracy\": 0.5}]}"
            .write(to: bad.appendingPathComponent("results.json"), atomically: true, encoding: .utf8)
        let notes = i.dir.appendingPathComponent("notes.txt").path
        try "x".write(toFile: notes, atomically: true, encoding: .utf8)
        for (args, mentions) in [([bad.path], ["results.json", "rows[0].fraction", "[0.0, 1.0]"]),
                                 ([notes], ["notes.txt", "cannot report on this file"]),
                                 ([i.dir.appendingPathComponent("missing.npz").path], ["missing.npz", "no such file"]),
                                 ([i.dir.path + "/experiment/"], [])] {
            let r = try runBSS(["report"] + args + ["--out", out])
            if mentions.isEmpty { XCTAssertEqual(r.status, 0, r.stderr); try FileManager.default.removeItem(atPath: out); continue }
            assertCleanFailure(r, mentions: mentions)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
        let r = try runBSS(["report", i.dataset, "--out", i.dir.appendingPathComponent("r.pdf").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--out must name an .html file"), r.stderr)
    }

    /// The distillation run's --tensorboard directory, read by TensorBoard itself.
    func testDistillTensorBoardScalars() throws {
        let i = try Self.inputs()
        let script = """
            import json, sys
            try:
                from tensorboard.backend.event_processing import event_accumulator as ea
            except ImportError:
                print("NO-TENSORBOARD"); sys.exit(0)
            acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0}); acc.Reload()
            print(json.dumps({t: [e.step for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}))
            """
        let out = try python(script, [i.run + "/tb"])
        if out.contains("NO-TENSORBOARD") { throw XCTSkip("the python package tensorboard is not installed (pip install tensorboard)") }
        let tags = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: [Int]])
        for t in ["loss/total", "loss/ce", "loss/kd", "loss/kd_bss", "loss/val", "accuracy/train", "accuracy/val", "schedule/lr",
                  "schedule/alpha", "schedule/beta", "bss/accepted", "bss/attempted"] {
            XCTAssertEqual(tags[t], [1, 2], t)
        }
        XCTAssertEqual(tags["bss/acceptance"], [1], "a rate only for epochs that searched (beta is 0 in epoch 2 of 2)")
        let batches = try XCTUnwrap(tags["batch/loss"])
        XCTAssertEqual(batches, Array(1...batches.count), "one point per batch at the global step")
        XCTAssertGreaterThan(batches.count, 2)
    }

    /// Every kind of report opened in headless Chromium: the page's own
    /// check (HTMLPage) finds every image and plot with a size and no script error, and a
    /// screenshot of the whole report is written.
    func testReportsOpenInChromium() throws {
        guard let chromium = Self.chromium() else {
            throw XCTSkip("chromium is not installed (Debian: apt-get install chromium); skipping the browser check of bss report")
        }
        let i = try Self.inputs()
        let profile = i.dir.appendingPathComponent("chromium-profile").path
        func browse(_ page: String, extra: [String]) throws -> (stdout: String, stderr: String) {
            try runTool(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(profile)",
                               "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"] + extra + [URL(fileURLWithPath: page).absoluteString])
        }
        // One page holds every kind (image data set, run, both similarity reports, experiment);
        // vector data sets draw bar plots instead of images.
        for (name, inputs) in [("vectors", [i.vectors]), ("all", [i.dataset, i.run, i.similarity, i.experiment])] {
            let (page, _) = try report(inputs, name: "browser-\(name).html")
            let (dom, log) = try browse(page, extra: ["--dump-dom"])
            let body = try XCTUnwrap(dom.range(of: "<body[^>]*>", options: .regularExpression).map { String(dom[$0]) }, "\(name): no <body> in the DOM")
            XCTAssertTrue(body.contains("data-report-ready=\"true\""), "\(name): the load handler did not run: \(body)")
            XCTAssertTrue(body.contains("data-report-broken=\"0\""), "\(name): images without size: \(body)")
            XCTAssertTrue(body.contains("data-report-errors=\"0\""), "\(name): script errors: \(body)")
            XCTAssertFalse(body.contains("data-report-images=\"0\""), "\(name): no images: \(body)")
            let consoleErrors = log.split(separator: "\n").filter { $0.contains("CONSOLE") || $0.contains("Uncaught") }
            XCTAssertEqual(consoleErrors, [], "\(name): console messages")
            if name == "all" {
                let shot = i.dir.appendingPathComponent("report.png").path
                _ = try browse(page, extra: ["--window-size=1280,9000", "--screenshot=\(shot)"])
                let png = try Data(contentsOf: URL(fileURLWithPath: shot))
                XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
                XCTAssertGreaterThan(png.count, 50_000)
                // Kept for a person to look at (the test directory is removed otherwise).
                let kept = FileManager.default.temporaryDirectory.appendingPathComponent("bss-report-screenshot.png")
                try? FileManager.default.removeItem(at: kept)
                try FileManager.default.copyItem(atPath: shot, toPath: kept.path)
                print("bss report screenshot: \(kept.path)")
            }
        }
    }

    static func chromium() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        for name in ["chromium", "chromium-browser"] {
            if let p = path.split(separator: ":").map({ "\($0)/\(name)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return p }
        }
        return nil
    }
}

/// Runs `executable` with `args`: stdout, and stderr (through a file, so neither pipe fills).
func runTool(_ executable: String, _ args: [String]) throws -> (stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    let out = Pipe()
    let err = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: err.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: err) }
    p.standardOutput = out
    p.standardError = try FileHandle(forWritingTo: err)
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let errors = String(decoding: (try? Data(contentsOf: err)) ?? Data(), as: UTF8.self)
    XCTAssertEqual(p.terminationStatus, 0, "\(executable): \(errors)")
    return (String(decoding: data, as: UTF8.self), errors)
}

/// `python3 -c script args…` (skips without python3).
func python(_ script: String, _ args: [String]) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
    guard let exe = path.split(separator: ":").map({ "\($0)/python3" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw XCTSkip("python3 is not installed")
    }
    return try runTool(exe, ["-c", script] + args).stdout
}
