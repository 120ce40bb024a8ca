import Boundary
import Foundation
import ModelIO
import NN
import Tensor

/// The checks a run passes before any training, so bad runs fail at once with one line that
/// names the file and what does not fit:
///
/// - the method's needs: a teacher for `hinton`/`bss`; labelled, non-empty training data with at
///   least two samples; Nesterov only with momentum;
/// - teacher and student agree: the same number of classes, and inputs of the same shape (or
///   the student's being the teacher's flattened);
/// - the data fits the models: per-sample shape and labels in `0..<classes` (train and val);
/// - every teacher and student parameter and buffer is finite (a NaN in a teacher's weights
///   would make every KD target NaN);
/// - the BSS search parameters are usable; the output can be written in the student's format
///   (extension, directory).
public enum Preflight {
    public static func check(config c: RunConfig, teacher: Model?, student: Model, train: SampleSource, val: SampleSource?) throws {
        let studentName = student.file ?? student.architectureName
        if c.method.usesTeacher, teacher == nil {
            throw RunConfigError(key: "teacher",
                               "method '\(c.method.rawValue)' learns from a teacher: give --teacher")
        }
        if c.nesterov && c.momentum == 0 {
            throw RunConfigError(key: "nesterov", "Nesterov momentum needs momentum > 0")
        }
        if let p = c.bssParameters.problem {
            throw RunConfigError(key: "bss", p)
        }
        if let p = c.attackProblem {
            throw ModelIOError(.mismatch, file: "run config", location: "attack", p)
        }
        let usedTeacher = c.method.usesTeacher ? teacher : nil
        if let t = usedTeacher {
            let teacherName = t.file ?? t.architectureName
            guard t.classes == student.classes else {
                throw ModelIOError(.mismatch, file: studentName, location: "classes",
                                   "the student has \(student.classes) classes, the teacher \(teacherName) has \(t.classes); they must predict the same classes")
            }
            let ts = t.graph.inputShape, ss = student.graph.inputShape
            guard ts == ss || ts.reduce(1, *) == ss.reduce(1, *) else {
                throw ModelIOError(.mismatch, file: studentName, location: "input",
                                   "the student takes inputs \(ss), the teacher \(teacherName) takes \(ts); they must read the same samples")
            }
            try checkFinite(t, role: "teacher")
        }
        try checkFinite(student, role: "student")

        guard let y = train.y else {
            throw ModelIOError(.notFound, file: train.file, location: "y", "training needs labels: no array 'y'")
        }
        guard train.count >= 2 else {
            throw ModelIOError(.mismatch, file: train.file, location: "x",
                               "\(train.count) training sample\(train.count == 1 ? "" : "s") (after train_fraction \(c.trainFraction)); training needs at least 2")
        }
        let inputModel = usedTeacher ?? student
        try train.validate(inputShape: inputModel.graph.inputShape, classes: inputModel.classes)
        _ = y
        if let val {
            guard val.y != nil else {
                throw ModelIOError(.notFound, file: val.file, location: "y", "validation data needs labels: no array 'y'")
            }
            try val.validate(inputShape: student.graph.inputShape, classes: student.classes)
        }
        try checkOutput(c, student: student)
    }

    /// Every parameter and buffer of `model` is finite. Checked even when loading let
    /// non-finite weights through (`--allow-nonfinite`): training cannot use them.
    public static func checkFinite(_ model: Model, role: String) throws {
        for (key, p) in model.stateDictParameters() {
            guard let (bad, first, isNaN) = p.value.data.withUnsafeBufferPointer({ NonFinite.scan($0) }) else { continue }
            throw ModelIOError(.mismatch, file: model.file ?? model.architectureName, location: key,
                               "\(bad) of \(p.value.count) values are not finite (the first, at index \(first), is \(isNaN ? "NaN" : "infinite")); the \(role) must have finite weights to train")
        }
    }

    /// The output path can take the student: a known extension that fits its format, in a
    /// directory that exists or can be created.
    public static func checkOutput(_ c: RunConfig, student: Model) throws {
        guard let out = c.out else { return }
        let url = URL(fileURLWithPath: out)
        let ext = url.pathExtension.lowercased()
        let fromKeras = student.format == .kerasH5 || student.format == .kerasArchive
        switch ext {
        case "npz", "safetensors", "h5", "hdf5": break
        case "keras" where fromKeras: break
        case _ where ModelWriterRegistry.writer(for: ext) != nil:
            // Refused before training when the student has a layer the format cannot express.
            try ModelWriterRegistry.writer(for: ext)!.check(student, out)
        case "keras":
            throw ModelIOError(.unsupported, file: out,
                               "the student '\(student.architectureName)' did not come from Keras, so it cannot be written as a .keras model; write a state dict (.npz, .safetensors or .h5)")
        default:
            throw ModelIOError(.unsupported, file: out,
                               "cannot write '.\(url.pathExtension)'; the student goes to .npz, .safetensors or .h5 (state dict)\(fromKeras ? ", or .h5/.keras (Keras model)" : "")\(ModelWriterRegistry.writer(for: "onnx") == nil ? "" : ", or .onnx")")
        }
        // A missing directory is created when the first file is written.
        try OutputPath.checkCanCreate(out)
    }
}
