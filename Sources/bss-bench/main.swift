import Foundation
import ModelIO
import NN
import Tensor

// bss-bench: times the engine's workloads and, when PyTorch is installed, the same workloads
// in PyTorch on the same machine with the same thread count (bench/torch_bench.py), then
// prints the ratios. Not a test: run it on an idle machine.
//
//   swift run -c release bss-bench [--threads N] [--reps R] [--only NAME] [--no-torch]

var threads = ProcessInfo.processInfo.activeProcessorCount
var reps = 5
var only: String?
var withTorch = true
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--threads": threads = Int(args.next() ?? "") ?? threads
    case "--reps": reps = Int(args.next() ?? "") ?? reps
    case "--only": only = args.next()
    case "--no-torch": withTorch = false
    default:
        print("usage: bss-bench [--threads N] [--reps R] [--only NAME] [--no-torch]")
        exit(a == "--help" ? 0 : 2)
    }
}
Parallel.threads = threads

let status = BLAS.status
print("bss-bench: \(threads) threads, OpenBLAS \(status.coreName) (\(status.choice)), load average \(loadAverage())")
let ourSgemm = BLAS.sgemmRate()
print(String(format: "sgemm 1024^3: %.1f GFLOP/s", ourSgemm))

var results: [String: (seconds: Double, items: Int)] = [:]
var notes: [String: String] = [:]
for w in try allWorkloads() where only == nil || only == w.name {
    BLAS.profiling = true
    BLAS.resetProfile()
    let r = try measure(w, warmup: 1, reps: reps)
    let prof = BLAS.profile
    BLAS.profiling = false
    results[w.name] = r
    // GEMM FLOPs per repetition over the whole workload's time: the rate reached inside convolutions.
    let flopsPerRep = Double(prof.flops) / Double(reps + 1)
    // Per-sample GEMMs run concurrently on the workers, so their summed call time can exceed the
    // wall time; the first figure (GEMM FLOPs / wall time) is the one to compare with sgemm.
    notes[w.name] = String(format: "GEMM %.1f GFLOP/s of wall time (%.1f per summed sgemm call time)",
                           flopsPerRep / r.seconds / 1e9, prof.seconds > 0 ? Double(prof.flops) / prof.seconds / 1e9 : 0)
    print(String(format: "%-22@ %8.3f s  %@", w.name as NSString, r.seconds, w.detail))
}

var torch: [String: Any] = [:]
if withTorch, let t = runTorchBench(threads: threads, reps: reps, only: only) { torch = t }

print("\n| workload | bss | PyTorch | bss / PyTorch | notes |")
print("|---|---|---|---|---|")
if let ts = ((torch["workloads"] as? [String: Any])?["sgemm"] as? [String: Any])?["gflops"] as? Double {
    print(String(format: "| sgemm 1024³ | %.1f GFLOP/s | %.1f GFLOP/s | %.2f (time ratio) | |", ourSgemm, ts, ts / ourSgemm))
}
for name in results.keys.sorted() {
    let r = results[name]!
    let tt = torchSeconds(torch, name)
    let ratio = tt.map { String(format: "%.2f", r.seconds / $0) } ?? "–"
    let tstr = tt.map { String(format: "%.3f s", $0) } ?? "–"
    var rate = ""
    if r.items > 0 { rate = String(format: " (%.1f/s)", Double(r.items) / r.seconds) }
    print("| \(name) | \(String(format: "%.3f s", r.seconds))\(rate) | \(tstr) | \(ratio) | \(notes[name] ?? "") |")
}
if let r = results["bss-resnet26"], r.items > 0,
   let t = (torch["workloads"] as? [String: Any])?["bss"] as? [String: Any],
   let ts = t["median_s"] as? Double, let te = t["per_sample_evaluations"] as? Int, te > 0 {
    let ours = r.seconds / Double(r.items), theirs = ts / Double(te)
    print(String(format: "| bss-resnet26 per evaluation | %.2f ms (%d evaluations) | %.2f ms (%d evaluations) | %.2f | time per per-sample forward+backward step |",
                 ours * 1000, r.items, theirs * 1000, te, ours / theirs))
}
print("\nload average after: \(loadAverage())")

func loadAverage() -> String {
    var l = [Double](repeating: 0, count: 3)
    getloadavg(&l, 3)
    return String(format: "%.2f %.2f %.2f", l[0], l[1], l[2])
}
