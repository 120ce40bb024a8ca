import Foundation

/// Runs `bench/torch_bench.py` (PyTorch on the same machine, same thread count) and returns
/// its JSON, or nil (with a note) when python3 or torch is missing.
func runTorchBench(threads: Int, reps: Int, warmup: Int, only: String?) -> [String: Any]? {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bench/torch_bench.py")
    guard FileManager.default.fileExists(atPath: script.path) else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    // PyTorch at its best: both memory formats (the faster is kept per workload), the same
    // warm-up and repetitions, and its thread pools pinned to our thread count from the start
    // (OMP/MKL read these when the library loads, before torch.set_num_threads runs).
    var a = ["python3", script.path, "--threads", "\(threads)", "--reps", "\(reps)", "--warmup", "\(warmup)",
             "--memory-format", "best"]
    if let only, let t = torchName(only) { a += ["--only", t] }
    p.arguments = a
    var env = ProcessInfo.processInfo.environment
    for k in ["OMP_NUM_THREADS", "MKL_NUM_THREADS"] { env[k] = "\(threads)" }
    p.environment = env
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
     "distill-step": "distill_step", "distill-step-fixed-bss": "distill_step_fixed_bss",
     "torchvision-resnet18": "tv_resnet18", "torchvision-mobilenet_v2": "tv_mobilenet_v2",
     "distill-step-wrn": "wrn_distill_step"][ours]
}

/// PyTorch's entry for our workload `name` in the script's JSON.
func torchWorkload(_ torch: [String: Any], _ name: String) -> [String: Any]? {
    guard let t = torchName(name) else { return nil }
    return (torch["workloads"] as? [String: Any])?[t] as? [String: Any]
}

/// onnxruntime's entry for our inference workload `name` (the same model exported to ONNX and
/// run by bench/torch_bench.py), or nil when onnxruntime was not measured.
func onnxruntimeWorkload(_ torch: [String: Any], _ name: String) -> [String: Any]? {
    guard let t = torchName(name) else { return nil }
    return (torch["onnxruntime"] as? [String: Any])?[t] as? [String: Any]
}
