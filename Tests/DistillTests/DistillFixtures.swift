import Distill
import Foundation
import ModelIO
import NN
import Tensor
import TestSupport

/// The committed distillation fixtures (`Fixtures/distill/`, made by
/// `Fixtures/scripts/make_distill_fixtures.py`) and small helpers shared by the tests.
enum DistillFixtures {
    static let teacherSpec = fixture("distill/digits-teacher.json")
    static let teacherWeights = fixture("distill/digits-teacher.npz")
    static let mlpStudent = fixture("distill/digits-student-mlp.npz")
    static let bnStudentSpec = fixture("distill/digits-student-bn.json")
    static let bnStudent = fixture("distill/digits-student-bn.npz")
    static let step = fixture("distill/distill-step.npz")
    static let train = fixture("digits/digits-train.npz")
    static let test = fixture("digits/digits-test.npz")

    /// The PyTorch twin of the bundled Keras digits teacher (spec + state dict, NHWC data).
    static func teacher() throws -> Model { try ModelLoader.load(teacherWeights, arch: teacherSpec) }

    /// A config for a small digits run: twin teacher, `mlp:64-48-10` student from the fixture.
    static func digitsConfig(_ dir: URL, method: DistillMethod = .bss, epochs: Int = 2, fraction: Double = 0.25) -> RunConfig {
        var c = RunConfig()
        c.teacher = teacherWeights
        c.teacherArch = teacherSpec
        c.student = mlpStudent
        c.studentArch = "mlp:64-48-10"
        c.data = train
        c.val = test
        c.out = dir.appendingPathComponent("student.npz").path
        c.method = method
        c.epochs = epochs
        c.batchSize = 64
        c.bssPerBatch = 16
        c.trainFraction = fraction
        c.seed = 7
        return c
    }

    /// Every parameter and buffer value of a model, in state-dict order.
    static func weights(_ m: Model) -> [(String, [Float])] {
        m.stateDictParameters().map { ($0.key, $0.parameter.value.data) }
    }
}
