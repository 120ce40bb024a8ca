import Foundation
import ModelIO
import Tensor
import TestSupport
import XCTest

/// `bss` under `mpirun` (docs/mpi.md): 2-rank data-parallel distillation of the bundled digits
/// against one process with the same global batch, a 2-rank `generate` equal to the
/// one-process file, and what each run records. Skipped when `mpirun` is not installed.
final class MPICommandTests: XCTestCase {
    struct MPIResult { var status: Int32; var stdout: String; var stderr: String }
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("mpi-cli") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// `mpirun --allow-run-as-root --oversubscribe -np N bss ARGS…`, skipping when mpirun is absent.
    func mpirun(_ np: Int, _ arguments: [String]) throws -> MPIResult {
        guard let launcher = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev; scripts/setup.sh does)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: launcher)
        p.arguments = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "\(np)", try bssExecutable().path] + arguments
        p.currentDirectoryURL = fixturesURL.deletingLastPathComponent()
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        final class Box: @unchecked Sendable { var data = Data() }
        let box = Box(), group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { box.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return MPIResult(status: p.terminationStatus, stdout: String(decoding: box.data, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A fresh copy of the digits teacher's CNN (conv + BatchNorm, so the statistics must be
    /// synchronised) distilled from the bundled teacher on a tenth of the digits, with a constant
    /// β = 2 so every step has a BSS term (split search, split BSS batch).
    func distill(out: String, extra: [String]) -> [String] {
        ["distill", "--teacher", fixture("distill/digits-teacher.npz"), "--teacher-arch", fixture("distill/digits-teacher.json"),
         "--student", fixture("distill/digits-teacher.json"),
         "--data", fixture("digits/digits-train.npz"), "--val", fixture("digits/digits-test.npz"),
         "--train-fraction", "0.1", "--bss-per-batch", "8", "--beta", "2", "--threads", "1", "--seed", "5", "--out", out] + extra
    }

    func arrays(_ p: String) throws -> [String: NumpyArray] { try Npz.readDictionary(URL(fileURLWithPath: p)) }

    /// One step over the whole subset (one batch): every parameter and BatchNorm statistic of
    /// the 2-rank student within 1e-5 (relative to the array's largest value) of one process'.
    func testOneStepOnTwoRanksMatchesOneProcess() throws {
        let one = try runBSS(distill(out: path("one.npz"), extra: ["--epochs", "1", "--batch-size", "1000"]))
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try mpirun(2, distill(out: path("two.npz"), extra: ["--epochs", "1", "--batch-size", "1000"]))
        XCTAssertEqual(two.status, 0, two.stderr)
        let a = try arrays(path("one.npz")), b = try arrays(path("two.npz"))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (k, x) in a where x.dtype == .float32 || x.dtype == .float64 {
            let u = try x.tensor.data, v = try b[k]!.tensor.data
            let scale = u.map { abs($0) }.max() ?? 0
            let diff = zip(u, v).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(diff, 1e-5 * max(scale, 1e-6), "\(k): max difference \(diff), scale \(scale)")
        }
        // Recorded: the world size in the config and in every metrics line; rank 0 alone printed.
        let config = try String(contentsOfFile: path("two.npz.config.yaml"), encoding: .utf8)
        XCTAssertTrue(config.contains("mpi_world_size: 2"), config)
        XCTAssertTrue(try String(contentsOfFile: path("one.npz.config.yaml"), encoding: .utf8).contains("mpi_world_size: 1"))
        let metrics = try String(contentsOfFile: path("two.npz.metrics.jsonl"), encoding: .utf8)
        XCTAssertTrue(metrics.contains("\"mpi_world_size\":2"), metrics)
        XCTAssertEqual(two.stdout.components(separatedBy: "final epoch").count, 2, two.stdout)
    }

    /// Two epochs with batches of 32: the same validation accuracy within one test sample.
    func testTwoEpochsOnTwoRanksReachTheSameAccuracy() throws {
        let one = try runBSS(distill(out: path("one.npz"), extra: ["--epochs", "2", "--batch-size", "32"]))
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try mpirun(2, distill(out: path("two.npz"), extra: ["--epochs", "2", "--batch-size", "32"]))
        XCTAssertEqual(two.status, 0, two.stderr)
        func accuracy(_ p: String) throws -> Double {
            let last = try String(contentsOfFile: p, encoding: .utf8).split(separator: "\n").last!
            let object = try JSONSerialization.jsonObject(with: Data(last.utf8)) as! [String: Any]
            return object["val_accuracy"] as! Double
        }
        let a = try accuracy(path("one.npz.metrics.jsonl")), b = try accuracy(path("two.npz.metrics.jsonl"))
        XCTAssertLessThanOrEqual(abs(a - b), 1.0 / 450 + 1e-12, "val accuracy: one process \(a), two ranks \(b)")
    }

    /// `generate` on 2 ranks writes the one-process data set (same pairs, statuses and steps,
    /// the same x_bss), bit-identical from run to run, with mpi_world_size 2 in its meta.
    func testGenerateOnTwoRanksEqualsOneProcess() throws {
        let args = ["generate", "--teacher", fixture("distill/digits-teacher.npz"), "--arch", fixture("distill/digits-teacher.json"),
                    "--data", fixture("digits/digits-test.npz"), "--targets", "all", "--limit", "40", "--batch-size", "16",
                    "--threads", "1"]
        let one = try runBSS(args + ["--out", path("one.npz")])
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try mpirun(2, args + ["--out", path("two.npz")])
        XCTAssertEqual(two.status, 0, two.stderr)
        let again = try mpirun(2, args + ["--out", path("again.npz")])
        XCTAssertEqual(again.status, 0, again.stderr)
        let a = try arrays(path("one.npz")), b = try arrays(path("two.npz")), c = try arrays(path("again.npz"))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for k in ["base_index", "base_class", "target_class", "status", "steps"] {
            XCTAssertEqual(try a[k]!.int64s(), try b[k]!.int64s(), k)
        }
        XCTAssertEqual(try a["status"]!.int64s().count, 360)
        let x1 = try a["x_bss"]!.tensor.data, x2 = try b["x_bss"]!.tensor.data
        XCTAssertEqual(x1.count, x2.count)
        XCTAssertLessThanOrEqual(zip(x1, x2).map { abs($0 - $1) }.max() ?? 0, 1e-6)
        for (k, v) in b where k != "meta" { XCTAssertEqual(v, c[k], "\(k): two 2-rank runs differ") }
        XCTAssertTrue(b["meta"]!.stringValue!.contains("\"mpi_world_size\":2"), b["meta"]!.stringValue!)
        XCTAssertTrue(a["meta"]!.stringValue!.contains("\"mpi_world_size\":1"))
        XCTAssertEqual(two.stdout.components(separatedBy: "teacher:").count, 2, "rank 0 alone reports: \(two.stdout)")
    }

    /// Outside mpirun: one process, no MPI call, and doctor says so.
    func testDoctorWithoutMPIRunMakesNoMPICall() throws {
        let r = try runBSS(["doctor", "--no-timing"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("not started by mpirun: one process, no MPI call made"), r.stdout)
    }

    /// Under mpirun: the library, the rank and the world size.
    func testDoctorUnderMPIRunShowsRankAndSize() throws {
        let r = try mpirun(2, ["doctor", "--no-timing"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("MPI library:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("0 of 2") && r.stdout.contains("1 of 2"), r.stdout)
    }

    /// A rank that fails prints its one-line error with its rank and stops the job.
    func testAFailingRankStopsTheJobWithItsError() throws {
        let r = try mpirun(2, ["generate", "--teacher", fixture("distill/digits-teacher.npz"), "--arch", fixture("distill/digits-teacher.json"),
                               "--data", path("missing.npz"), "--out", path("never.npz"), "--threads", "1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("bss: error: [rank ") && r.stderr.contains("missing.npz"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("never.npz")))
    }

    /// Two "hosts" in network namespaces joined by a veth pair, ranks launched through an rsh
    /// agent that enters the namespace, TCP only: `generate` writes the one-process data set.
    /// Skipped unless `ip netns` works (root with CAP_NET_ADMIN).
    func testGenerateOnTwoNetworkNamespaceHosts() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/mpirun") else { throw XCTSkip("mpirun is not installed") }
        let id = "\(getpid() % 100000)", nsA = "bssa\(id)", nsB = "bssb\(id)"
        let net = "10.\(77 + Int(id)! % 100).\(Int(id)! % 250)"
        func sh(_ command: String) -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", command]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { return -1 }
            p.waitUntilExit()
            return p.terminationStatus
        }
        guard sh("ip netns add \(nsA)") == 0 else { throw XCTSkip("ip netns is not available (needs root with CAP_NET_ADMIN)") }
        defer { _ = sh("ip netns del \(nsA); ip netns del \(nsB)") }
        let setup = """
            ip netns add \(nsB) && ip link add va\(id) type veth peer name vb\(id) && \
            ip link set va\(id) netns \(nsA) && ip link set vb\(id) netns \(nsB) && \
            ip -n \(nsA) addr add \(net).1/24 dev va\(id) && ip -n \(nsB) addr add \(net).2/24 dev vb\(id) && \
            ip -n \(nsA) link set va\(id) up && ip -n \(nsB) link set vb\(id) up && \
            ip -n \(nsA) link set lo up && ip -n \(nsB) link set lo up
            """
        guard sh(setup) == 0 else { throw XCTSkip("cannot create the veth pair between the namespaces") }
        let agent = path("agent.sh")
        try Data("""
            #!/bin/sh
            # rsh agent for mpirun: "agent HOST COMMAND..." runs COMMAND in HOST's network namespace.
            host=$1; shift
            case $host in \(net).1) ns=\(nsA) ;; \(net).2) ns=\(nsB) ;; *) echo "unknown host $host" >&2; exit 1 ;; esac
            exec ip netns exec $ns /bin/sh -c "$*"
            """.utf8).write(to: URL(fileURLWithPath: agent))
        XCTAssertEqual(sh("chmod +x \(agent)"), 0)
        try Data("\(net).1 slots=1\n\(net).2 slots=1\n".utf8).write(to: URL(fileURLWithPath: path("hosts")))
        let args = ["generate", "--teacher", fixture("distill/digits-teacher.npz"), "--arch", fixture("distill/digits-teacher.json"),
                    "--data", fixture("digits/digits-test.npz"), "--targets", "all", "--limit", "40", "--batch-size", "16",
                    "--threads", "1"]
        let one = try runBSS(args + ["--out", path("one.npz")])
        XCTAssertEqual(one.status, 0, one.stderr)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = ["netns", "exec", nsA, "env", "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                       "/usr/bin/mpirun", "--mca", "plm_rsh_agent", agent, "--mca", "btl", "tcp,self", "--hostfile", path("hosts"),
                       "--map-by", "node", "--bind-to", "none", "-np", "2", try bssExecutable().path] + args + ["--out", path("two.npz")]
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, stderr)
        let a = try arrays(path("one.npz")), b = try arrays(path("two.npz"))
        for (k, v) in a where k != "meta" { XCTAssertEqual(v, b[k], "\(k): two namespace hosts differ from one process") }
        XCTAssertTrue(b["meta"]!.stringValue!.contains("\"mpi_world_size\":2"))
    }

    /// `similarity` on 2 ranks reports what one process reports (timing aside).
    func testSimilarityOnTwoRanksEqualsOneProcess() throws {
        let args = ["similarity", fixture("digits/teacher-cnn.h5"), fixture("similarity/digits-mlp.npz"), "--b-arch", "mlp:64-48-10",
                    "--data", fixture("digits/digits-test.npz"), "--limit", "40", "--json", "--threads", "1"]
        let one = try runBSS(args), two = try mpirun(2, args)
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertEqual(two.status, 0, two.stderr)
        func report(_ text: String) throws -> NSDictionary {
            var o = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
            o["seconds"] = nil
            return o as NSDictionary
        }
        XCTAssertEqual(try report(one.stdout), try report(two.stdout))
    }
}
