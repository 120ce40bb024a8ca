import Foundation

/// Runs `bench/torch_bench.py` (PyTorch on the same machine, same thread count) and returns
/// its JSON, or nil (with a note) when python3 or torch is missing.
func runTorchBench(threads: Int, reps: Int, only: String?) -> [String: Any]? {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bench/torch_bench.py")
    guard FileManager.default.fileExists(atPath: script.path) else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    var a = ["python3", script.path, "--threads", "\(threads)", "--reps", "\(reps)"]
    if let only, let t = torchName(only) { a += ["--only", t] }
    p.arguments = a
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.standardError
    do { try p.run() } catch { print("PyTorch reference skipped: \(error)"); return nil }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        print("PyTorch reference skipped (python3 with torch not available)")
        return nil
    }
    return obj
}

/// Our workload name → bench/torch_bench.py's name.
func torchName(_ ours: String) -> String? {
    ["resnet26-inference": "inference", "resnet26-margin-grad": "margin_grad", "bss-resnet26": "bss",
     "distill-step": "distill_step", "distill-step-fixed-bss": "distill_step_fixed_bss"][ours]
}

/// PyTorch's median seconds for our workload `name`, looked up in the script's JSON.
func torchSeconds(_ torch: [String: Any], _ name: String) -> Double? {
    guard let t = torchName(name) else { return nil }
    let entry = (torch["workloads"] as? [String: Any])?[t] ?? torch[t]
    if let d = entry as? [String: Any] {
        return d["median_s"] as? Double ?? d["seconds"] as? Double ?? d["median"] as? Double
    }
    return entry as? Double
}
