import Foundation
import ModelIO
import TestSupport
import XCTest

/// The CLI's promises across verbs: every flag an error or help text names exists on the verb
/// that prints it, impossible values are refused in one line, outputs create their folders,
/// results go to stdout and everything else to stderr, each verb's help has an example, and
/// the progress display fits the terminal and stops cleanly on Ctrl-C.
final class CLIConsistencyTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("bss-cli") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    let teacher = fixture("distill/digits-teacher.npz"), teacherSpec = fixture("distill/digits-teacher.json")
    let data = fixture("digits/digits-test.npz")

    /// Command types in Sources/bss and the verb each one is.
    static let verbs: [String: String] = [
        "Inspect": "inspect", "Predict": "predict", "Eval": "eval", "Convert": "convert", "Generate": "generate",
        "Similarity": "similarity", "DistillCommand": "distill", "DataInspect": "data inspect", "DataConvert": "data convert",
        "Doctor": "doctor", "DataCommand": "data", "Verify": "verify", "PresetsCommand": "presets",
        "ReportCommand": "report", "ExperimentCommand": "experiment",
    ]

    /// Every flag a verb accepts, hidden ones included.
    func flags(of verb: String) throws -> Set<String> {
        let r = try runBSS(verb.split(separator: " ").map(String.init) + ["--help-hidden"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return Self.flagsNamed(in: r.stdout)
    }

    static func flagsNamed(in text: String) -> Set<String> {
        let regex = try! NSRegularExpression(pattern: "--[a-z][a-z0-9-]*")
        let ns = text as NSString
        return Set(regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).map {
            ns.substring(with: $0.range).trimmingCharacters(in: CharacterSet(charactersIn: "-")).isEmpty ? "" : ns.substring(with: $0.range)
        }.map { $0.hasSuffix("-") ? String($0.dropLast()) : $0 })
    }

    /// Checks the flags `text` names against `allowed` (the flags of `verb`); a flag inside a
    /// quoted command of another verb (`` `bss eval --scale` ``) is checked against that verb.
    /// Returns how many flags were checked.
    @discardableResult
    func checkFlags(in text: String, of verb: String, allowed: Set<String>, context: String) throws -> Int {
        let quoted = try NSRegularExpression(pattern: "`bss ([a-z]+(?: [a-z]+)?)([^`]*)`")
        let ns = text as NSString
        var rest = text, count = 0
        for m in quoted.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            let words = ns.substring(with: m.range(at: 1)).split(separator: " ").map(String.init)
            let other = Set(Self.verbs.values).contains(words.joined(separator: " ")) ? words.joined(separator: " ") : words[0]
            let named = Self.flagsNamed(in: ns.substring(with: m.range(at: 2)))
            let otherFlags = try flags(of: other)
            XCTAssertTrue(named.isSubset(of: otherFlags), "\(context): `bss \(other)` has no \(named.subtracting(otherFlags).sorted())")
            count += named.count
            rest = rest.replacingOccurrences(of: ns.substring(with: m.range), with: "")
        }
        let named = Self.flagsNamed(in: rest)
        XCTAssertTrue(named.isSubset(of: allowed), "\(context) names \(named.subtracting(allowed).sorted()), not flags of bss \(verb): \(text.prefix(200))")
        return count + named.count
    }

    /// Item: an error must never recommend a flag its verb does not have. Errors from the
    /// model loaders name the verb's own architecture flag.
    func testErrorHintsNameTheVerbsOwnFlags() throws {
        let cases: [(verb: String, args: [String], mentions: String)] = [
            ("inspect", ["inspect", teacher], "--arch"),
            ("predict", ["predict", teacher, "--data", data, "--out", path("l.npz")], "--arch"),
            ("eval", ["eval", teacher, "--data", data], "--arch"),
            ("convert", ["convert", teacher, path("t.keras")], "--arch"),
            ("generate", ["generate", "--teacher", teacher, "--data", data, "--out", path("b.h5")], "--teacher-arch"),
            ("similarity", ["similarity", teacher, teacher, "--b-arch", teacherSpec, "--data", data], "--a-arch"),
            ("similarity", ["similarity", teacher, teacher, "--a-arch", teacherSpec, "--data", data], "--b-arch"),
            ("distill", ["distill", "--teacher", teacher, "--student", "mlp:64-48-10", "--data", data, "--out", path("s.npz")], "--teacher-arch"),
            ("distill", ["distill", "--teacher", teacher, "--teacher-arch", teacherSpec, "--student", fixture("distill/digits-student-mlp.npz"),
                         "--data", data, "--out", path("s.npz")], "--student-arch"),
            ("predict", ["predict", teacher, "--arch", teacherSpec, "--data", data, "--out", path("l.npz"), "--batch-size", "0"], "--batch-size"),
            ("generate", ["generate", "--teacher", teacher, "--data", data, "--out", path("b.h5"), "--per-sample", "2", "--targets", "all"], "--per-sample"),
            ("similarity", ["similarity", "--a-bss", "a.h5", "--b-bss", "b.h5", "--bss-eta", "1", "--seed", "2"], "--bss-eta"),
            ("distill", ["distill", "--resume", dir.path, "--bss-eta", "0.5"], "--resume"),
            ("data convert", ["data", "convert", data, path("x.txt")], "OUT"),
        ]
        var known: [String: Set<String>] = [:]
        for c in cases {
            let r = try runBSS(c.args)
            assertCleanFailure(r, mentions: [c.mentions])
            let allowed = try known[c.verb] ?? flags(of: c.verb)
            known[c.verb] = allowed
            try checkFlags(in: r.stderr, of: c.verb, allowed: allowed, context: "error")
        }
    }

    /// Every string literal in the source of a verb, or of an option group it uses, names only
    /// flags `bss VERB --help-hidden` lists.
    func testEveryFlagInTheSourceMessagesExistsOnItsVerb() throws {
        let sources = fixturesURL.deletingLastPathComponent().appendingPathComponent("Sources/bss")
        let files = try FileManager.default.contentsOfDirectory(atPath: sources.path).filter { $0.hasSuffix(".swift") }
        // Top-level type blocks: name -> text.
        var blocks: [String: String] = [:]
        var commands: [String] = []
        let header = try NSRegularExpression(pattern: "^(?:struct|enum|final class|class|extension) ([A-Za-z.]+)(.*)$", options: .anchorsMatchLines)
        for f in files {
            let text = try String(contentsOf: sources.appendingPathComponent(f), encoding: .utf8)
            let ns = text as NSString
            let ms = header.matches(in: text, range: NSRange(location: 0, length: ns.length))
            for (i, m) in ms.enumerated() {
                let name = ns.substring(with: m.range(at: 1))
                let end = i + 1 < ms.count ? ms[i + 1].range.location : ns.length
                blocks[name, default: ""] += ns.substring(with: NSRange(location: m.range.location, length: end - m.range.location))
                if ns.substring(with: m.range(at: 2)).contains("ParsableCommand") { commands.append(name) }
            }
        }
        let group = try NSRegularExpression(pattern: "@OptionGroup var [a-zA-Z]+: ([A-Za-z]+)")
        func groups(_ name: String) -> Set<String> {
            let text = blocks[name] ?? "", ns = text as NSString
            let direct = group.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: 1)) }
            return direct.reduce(into: Set([name])) { $0.formUnion(groups($1)) }
        }
        let literal = try NSRegularExpression(pattern: "\"\"\"[\\s\\S]*?\"\"\"|\"(?:[^\"\\\\\\n]|\\\\.)*\"")
        var checked = 0
        for command in commands where command != "BSSCommand" {
            let verb = try XCTUnwrap(Self.verbs[command], "add \(command) to CLIConsistencyTests.verbs")
            let allowed = try flags(of: verb)
            for type in groups(command) {
                let text = blocks[type] ?? "", ns = text as NSString
                for m in literal.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                    checked += try checkFlags(in: ns.substring(with: m.range), of: verb, allowed: allowed, context: "\(type) (used by bss \(verb))")
                }
            }
        }
        XCTAssertGreaterThan(checked, 50, "the scan found the messages")
    }

    func testImpossibleValuesAreRefusedInOneLine() throws {
        let model = [teacher, "--arch", teacherSpec, "--data", data]
        let cases: [([String], String)] = [
            (["predict"] + model + ["--out", path("l.npz"), "--batch-size", "0"], "--batch-size"),
            (["eval"] + model + ["--batch-size", "-3"], "--batch-size"),
            (["eval"] + model + ["--threads", "0"], "--threads"),
            (["eval"] + model + ["--data-layout", "nwhc"], "--data-layout"),
            (["generate", "--teacher", teacher, "--data", data, "--out", path("b.h5"), "--bss-eta", "0"], "--bss-eta"),
            (["generate", "--teacher", teacher, "--data", data, "--out", path("b.h5"), "--bss-eps", "-1"], "--bss-eps"),
            (["generate", "--teacher", teacher, "--data", data, "--out", path("b.h5"), "--bss-clip", "1,1"], "--bss-clip"),
            (["generate", "--teacher", teacher, "--data", data, "--out", path("b.h5"), "--bss-max-steps", "-1"], "--bss-max-steps"),
            (["generate", "--teacher", teacher, "--data", data, "--out", path("b.h5"), "--limit", "-1"], "--limit"),
            (["generate", "--teacher", teacher, "--data", data, "--out", path("b.h5"), "--targets", "every"], "--targets"),
            (["generate", "--teacher", teacher, "--data", data, "--out", path("b.h5"), "--base", "wrong"], "--base"),
            (["similarity", teacher, teacher, "--data", data, "--per-sample", "0"], "--per-sample"),
            (["similarity", teacher, teacher, "--data", data, "--bss-mode", "fast"], "--bss-mode"),
            (["distill", "--student", "mlp:64-48-10", "--data", data, "--out", path("s.npz"), "--batch-size", "1"], "--batch-size"),
            (["distill", "--student", "mlp:64-48-10", "--data", data, "--out", path("s.npz"), "--threads", "0"], "--threads"),
            (["distill", "--student", "mlp:64-48-10", "--data", data, "--out", path("s.npz"), "--method", "kd"], "--method"),
            (["distill", "--student", "mlp:64-48-10", "--data", data, "--out", path("s.npz"), "--bss-step-norm", "l1"], "--bss-step-norm"),
            (["convert", teacher, path("t.h5"), "--to", "onnx"], "--to"),
            (["data", "convert", data, path("x.npz"), "--layout", "chw"], "--layout"),
        ]
        for (args, flag) in cases {
            let r = try runBSS(args)
            assertCleanFailure(r, mentions: [flag])
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
        // Fixed sets are listed in --help.
        let help = try runBSS(["generate", "--help"]).stdout
        for values in ["(values: paper, official)", "(values: l2sq, l2)", "(values: all, sampled, runner-up)", "(values: correct, all", "(values: nchw, nhwc)"] {
            XCTAssertTrue(help.contains(values), "generate --help lists \(values)")
        }
    }

    func testOldSpellingsStillWorkWithANote() throws {
        let r = try runBSS(["generate", "--teacher", teacher, "--arch", teacherSpec, "--data", data, "--out", path("b.npz"),
                            "--limit", "3", "--targets", "runner-up", "--mode", "official", "--steps", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for old in ["--arch", "--mode", "--steps"] {
            XCTAssertTrue(r.stderr.contains("bss: note: \(old) is deprecated"), r.stderr)
        }
        assertCleanFailure(try runBSS(["generate", "--teacher", teacher, "--arch", teacherSpec, "--teacher-arch", teacherSpec,
                                       "--data", data, "--out", path("c.npz")]), mentions: ["--teacher-arch"])
    }

    /// Every verb that writes creates missing folders; results on stdout, the rest on stderr.
    func testOutputsCreateFoldersAndStreamsAreSplit() throws {
        let model = [teacher, "--arch", teacherSpec, "--data", data]
        // predict: no result text, "wrote" on stderr.
        var r = try runBSS(["predict"] + model + ["--out", path("a/b/logits.npz")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("a/b/logits.npz")))
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.contains("wrote \(path("a/b/logits.npz"))"), r.stderr)
        // eval: the result on stdout.
        r = try runBSS(["eval"] + model + ["--json"])
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        // generate: summary (or JSON) on stdout, "wrote" on stderr.
        r = try runBSS(["generate", "--teacher", teacher, "--teacher-arch", teacherSpec, "--data", data, "--out", path("g/bss.h5"),
                        "--limit", "4", "--targets", "runner-up", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertTrue(r.stderr.contains("wrote \(path("g/bss.h5"))"), r.stderr)
        // similarity: JSON on stdout, the plot in a new folder, "wrote" on stderr.
        r = try runBSS(["similarity", teacher, teacher, "--a-arch", teacherSpec, "--b-arch", teacherSpec, "--data", data,
                        "--limit", "3", "--targets", "runner-up", "--json", "--plot", path("p/q/plot.svg")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("p/q/plot.svg")))
        XCTAssertTrue(r.stderr.contains("wrote \(path("p/q/plot.svg"))"), r.stderr)
        // convert: the files and conversions are notes on stderr.
        r = try runBSS(["convert", teacher, path("c/t.safetensors"), "--arch", teacherSpec])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.contains("wrote \(path("c/t.safetensors"))"), r.stderr)
        // data convert.
        r = try runBSS(["data", "convert", data, path("d/e/x.h5")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.contains("wrote \(path("d/e/x.h5"))"), r.stderr)
        // distill: the final line on stdout; the student and its side files in a new folder.
        r = try runBSS(["distill", "--teacher", teacher, "--teacher-arch", teacherSpec, "--student", "mlp:64-48-10", "--data", data,
                        "--epochs", "1", "--batch-size", "32", "--bss-per-batch", "4", "--threads", "1", "--out", path("out/run/s.npz")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("final epoch 1:"), r.stdout)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 1, r.stdout)
        for f in ["s.npz", "s.npz.config.yaml", "s.npz.metrics.jsonl", "s.npz.curves.svg", "s.npz.checkpoint.npz"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path("out/run/" + f)), f)
        }
        XCTAssertTrue(r.stderr.contains("wrote \(path("out/run/s.npz"))"), r.stderr)
        // threads is a run-config key, recorded.
        let yaml = try String(contentsOfFile: path("out/run/s.npz.config.yaml"), encoding: .utf8)
        XCTAssertTrue(yaml.contains("\nthreads: 1 "), yaml)
        // A folder where a file is expected is refused before any work.
        assertCleanFailure(try runBSS(["predict"] + model + ["--out", data + "/x/logits.npz"]), mentions: ["is a file, not a directory"])
    }

    func testHelpVersionExamplesAndCompletion() throws {
        let v = try runBSS(["--version"])
        XCTAssertEqual(v.status, 0)
        XCTAssertTrue(v.stdout.range(of: #"^\d+\.\d+\.\d+\n$"#, options: .regularExpression) != nil, v.stdout)
        for verb in Set(Self.verbs.values).sorted() {
            let r = try runBSS(["help"] + verb.split(separator: " ").map(String.init))
            if !r.stdout.contains("USAGE: bss \(verb)") { continue }   // a verb of another branch
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("Example"), "bss help \(verb) has an example")
            XCTAssertTrue(r.stdout.contains("  bss \(verb == "data" ? "data convert" : verb) "), "the example runs bss \(verb)")
        }
        for shell in ["bash", "zsh", "fish"] {
            let r = try runBSS(["--generate-completion-script", shell])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("distill"), shell)
        }
    }

    // MARK: - On a terminal

    func distillArguments(epochs: Int, out: String) -> [String] {
        ["distill", "--teacher", teacher, "--teacher-arch", teacherSpec, "--student", "mlp:64-48-10",
         "--data", fixture("digits/digits-train.npz"), "--epochs", "\(epochs)", "--batch-size", "16", "--bss-per-batch", "4",
         "--threads", "1", "--out", out]
    }

    func testProgressFitsANarrowTerminal() throws {
        for columns in [40, 72] {
            let run = try TerminalRun(distillArguments(epochs: 2, out: path("n\(columns)/s.npz")), columns: columns)
            let (status, terminal, _) = run.wait()
            XCTAssertEqual(status, 0, terminal)
            let rows = TerminalRun.rows(terminal)
            XCTAssertTrue(rows.contains { $0.hasPrefix("epoch 1/2") }, terminal)
            // Progress redraws fit; summary lines (printed once, not redrawn) may wrap.
            for row in rows where row.contains("█") || row.contains("░") {
                XCTAssertLessThanOrEqual(row.count, columns, "wider than \(columns) columns: '\(row)'")
            }
        }
        // A wide terminal has room for the whole-run ETA.
        let run = try TerminalRun(distillArguments(epochs: 30, out: path("w/s.npz")), columns: 200)
        let (status, terminal, _) = run.wait()
        XCTAssertEqual(status, 0, terminal)
        XCTAssertTrue(terminal.contains("run ETA"), terminal)
    }

    func testCtrlCDuringDistillLeavesNoTemporaryFileAndSaysHowToResume() throws {
        let runDir = dir.appendingPathComponent("run")
        let run = try TerminalRun(distillArguments(epochs: 500, out: runDir.appendingPathComponent("s.npz").path), columns: 100)
        let checkpoint = runDir.appendingPathComponent("s.npz.checkpoint.npz").path
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: checkpoint) && run.process.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint), run.terminal)
        usleep(300_000)
        run.send(SIGINT)
        let (status, terminal, _) = run.wait(timeout: 30)
        XCTAssertEqual(status, 130, terminal)
        let last = TerminalRun.rows(terminal).last ?? ""
        XCTAssertTrue(last.hasPrefix("bss: interrupted;") && last.contains("bss distill --resume \(runDir.path)"), terminal)
        let left = try FileManager.default.contentsOfDirectory(atPath: runDir.path)
        XCTAssertEqual(left.filter { $0.contains(".tmp-") }, [], "temporary files left: \(left)")
        XCTAssertFalse(left.contains("s.npz"), "the student is written only at the end")
    }

    /// A missing OpenBLAS is one error line with the fix (it used to end in `fatalError`);
    /// `doctor` still runs and reports it.
    func testMissingOpenBLASIsOneLineWithTheFix() throws {
        let env = ["BSS_OPENBLAS_LIBRARY": dir.appendingPathComponent("no-such-libopenblas.so.0").path]
        let r = try runBSS(["inspect", fixture("torch/cifar-resnet8.npz"), "--arch", "heo2019-resnet8"], environment: env)
        assertCleanFailure(r, mentions: ["OpenBLAS", "no-such-libopenblas.so.0", "apt-get install libopenblas-dev"])
        XCTAssertEqual(r.stdout, "")
    }
}
