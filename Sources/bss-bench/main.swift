import Foundation
import ModelIO
import NN
import Tensor

// bss-bench: times the engine's workloads and, when PyTorch is installed, the same workloads
// in PyTorch on the same machine with the same thread count (bench/torch_bench.py), then
// prints the ratios and the peak working memory of both; for the inference workloads also
// onnxruntime running the same model exported to ONNX. Not a test: run it on an idle machine.
//
//   swift run -c release bss-bench [--threads N] [--reps R] [--warmup W] [--only NAME] [--no-torch] [--json]

var threads = ProcessInfo.processInfo.activeProcessorCount
var reps = 5, warmup = 2
var only: String?
var withTorch = true, json = false
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--threads": threads = Int(args.next() ?? "") ?? threads
    case "--reps": reps = Int(args.next() ?? "") ?? reps
    case "--warmup": warmup = Int(args.next() ?? "") ?? warmup
    case "--only": only = args.next()
    case "--no-torch": withTorch = false
    case "--json": json = true
    default:
        print("usage: bss-bench [--threads N] [--reps R] [--warmup W] [--only NAME] [--no-torch] [--json]")
        exit(a == "--help" ? 0 : 2)
    }
}
Parallel.threads = threads
/// Human-readable lines go to stderr with --json, so stdout holds the JSON document only.
func say(_ s: String) {
    if json { FileHandle.standardError.write(Data((s + "\n").utf8)) } else { print(s) }
}

let status = BLAS.status
say("bss-bench: \(threads) threads, OpenBLAS \(status.coreName) (\(status.choice)), load average \(loadAverage())")
let convBackend = ConvBackend.current == .oneDNN ? "oneDNN: \(ConvBackend.oneDNNMessage)"
    : "OpenBLAS im2col + sgemm" + (ConvBackend.oneDNNAvailable ? " (BSS_CONV=openblas)" : " (\(ConvBackend.oneDNNMessage))")
say("convolutions: \(convBackend)")
let ourSgemm = BLAS.sgemmRate()
say(String(format: "sgemm 1024^3: %.1f GFLOP/s", ourSgemm))

var results: [String: Measurement] = [:]
var gemmRates: [String: Double] = [:]
var details: [String: String] = [:]
for w in try allWorkloads(only: only) where only == nil || only == w.name {
    BLAS.profiling = true
    BLAS.resetProfile()
    let r = try measure(w, warmup: warmup, reps: reps)
    let prof = BLAS.profile
    BLAS.profiling = false
    results[w.name] = r
    details[w.name] = w.detail
    // Convolution and GEMM FLOPs (sgemm calls and oneDNN convolutions alike) per repetition
    // over the best repetition's wall time: the rate reached inside convolutions, to compare
    // with the sgemm rate above (per-sample GEMMs run concurrently on
    // the workers, so summed call times would overstate it).
    gemmRates[w.name] = Double(prof.flops) / Double(reps + warmup) / r.best / 1e9
    say(String(format: "%-24@ best %7.3f s  median %7.3f s  cpu %7.3f s  working memory %6.1f MB  %@", w.name as NSString,
               r.best, r.median, r.bestCPU, Double(r.workingBytes) / 1e6, w.detail))
}

var torch: [String: Any] = [:]
if withTorch, let t = runTorchBench(threads: threads, reps: reps, warmup: warmup, only: only) { torch = t }
let torchSgemm = ((torch["workloads"] as? [String: Any])?["sgemm"] as? [String: Any])?["gflops"] as? Double

say("\n| workload | bss (best) | PyTorch (best) | bss / PyTorch | bss memory | PyTorch memory | convolution + GEMM rate (wall) |")
say("|---|---|---|---|---|---|---|")
if let ts = torchSgemm {
    say(String(format: "| sgemm 1024³ | %.1f GFLOP/s | %.1f GFLOP/s | %.2f (time ratio) | | | |", ourSgemm, ts, ts / ourSgemm))
}
var rows: [[String: Any]] = []
for name in results.keys.sorted() {
    let r = results[name]!
    let t = torchWorkload(torch, name)
    let tBest = t?["best_s"] as? Double ?? t?["median_s"] as? Double
    let tMem = t?["working_bytes"] as? Int
    let ratio = tBest.map { r.best / $0 }
    let rate = gemmRates[name] ?? 0
    say("| \(name) | \(String(format: "%.3f s", r.best)) | \(tBest.map { String(format: "%.3f s", $0) } ?? "–") | "
        + "\(ratio.map { String(format: "%.2f", $0) } ?? "–") | \(String(format: "%.0f MB", Double(r.workingBytes) / 1e6)) | "
        + "\(tMem.map { String(format: "%.0f MB", Double($0) / 1e6) } ?? "–") | "
        + String(format: "%.0f GFLOP/s (%.0f%% of sgemm)", rate, 100 * rate / ourSgemm) + " |")
    var row: [String: Any] = ["name": name, "detail": details[name] ?? "", "best_s": r.best, "median_s": r.median, "best_cpu_s": r.bestCPU,
                              "items": r.items, "working_bytes": r.workingBytes, "gemm_gflops": rate]
    if let tBest { row["torch_best_s"] = tBest; row["ratio"] = r.best / tBest }
    if let tMem { row["torch_working_bytes"] = tMem }
    if let f = t?["memory_format"] as? String { row["torch_memory_format"] = f }
    if let o = onnxruntimeWorkload(torch, name), let oBest = o["best_s"] as? Double {
        row["onnxruntime_best_s"] = oBest
        row["onnxruntime_ratio"] = r.best / oBest
        if let m = o["working_bytes"] as? Int { row["onnxruntime_working_bytes"] = m }
    }
    rows.append(row)
}
if let r = results["bss-resnet26"], r.items > 0,
   let t = torchWorkload(torch, "bss-resnet26"), let ts = (t["best_s"] ?? t["median_s"]) as? Double,
   let te = t["per_sample_evaluations"] as? Int, te > 0 {
    let ours = r.best / Double(r.items), theirs = ts / Double(te)
    say(String(format: "| bss-resnet26 per evaluation | %.2f ms (%d evaluations) | %.2f ms (%d evaluations) | %.2f | | | time per per-sample forward+backward step |",
               ours * 1000, r.items, theirs * 1000, te, ours / theirs))
}
let ortRows = results.keys.sorted().compactMap { name -> (String, Double, Double)? in
    guard let o = onnxruntimeWorkload(torch, name), let oBest = o["best_s"] as? Double else { return nil }
    return (name, results[name]!.best, oBest)
}
if !ortRows.isEmpty {
    say("\n| inference workload | bss (best) | onnxruntime (best) | bss / onnxruntime |")
    say("|---|---|---|---|")
    for (name, ours, theirs) in ortRows {
        say(String(format: "| %@ | %.3f s | %.3f s | %.2f |", name as NSString, ours, theirs, ours / theirs))
    }
}
if ConvBackend.current == .oneDNN {
    let c = ConvBackend.groupChecks
    say("oneDNN inference groups: \(c.passed) shapes checked bit-identical to per-sample calls, \(c.failed) kept per sample")
}
say("\nload average after: \(loadAverage())")

if json {
    var cpu = "unknown"
    if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
       let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }) {
        cpu = line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? cpu
    }
    var doc: [String: Any] = ["threads": threads, "reps": reps, "warmup": warmup, "cpu": cpu,
                              "openblas_core": status.coreName, "openblas_choice": status.choice, "conv_backend": convBackend,
                              "sgemm_gflops": ourSgemm, "workloads": rows, "load_average_after": loadAverage()]
    if let torchSgemm { doc["torch_sgemm_gflops"] = torchSgemm }
    if let v = torch["torch_version"] { doc["torch_version"] = v }
    let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

func loadAverage() -> String {
    var l = [Double](repeating: 0, count: 3)
    getloadavg(&l, 3)
    return String(format: "%.2f %.2f %.2f", l[0], l[1], l[2])
}
