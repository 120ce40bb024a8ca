import Foundation
import XCTest
import TestSupport

/// `bss presets` and `bss verify` through the executable.
final class ZooCommandTests: XCTestCase {
    func zoo(_ name: String) -> String { fixture("zoo/" + name) }

    func testPresetsListsEveryFamilyWithSizeAndInput() throws {
        let r = try runBSS(["presets"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for line in ["heo2019-resnet8 ", "akamaster-resnet110 ", "repdistiller-resnet32x4 ", "repdistiller-wrn_40_2 ", "repdistiller-vgg19 ",
                     "repdistiller-mobilenetv2 ", "repdistiller-shufflev1 ", "repdistiller-shufflev2 ", "torchvision-resnet50 ",
                     "torchvision-vgg16_bn "] {
            XCTAssertTrue(r.stdout.contains(line), "\(line) missing: \(r.stdout)")
        }
        let r8 = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("heo2019-resnet8 ") })
        XCTAssertTrue(r8.contains("75,290") && r8.contains("3x32x32") && r8.contains("bhheo/BSS_distillation"), String(r8))
        XCTAssertFalse(r.stdout.contains("cifar-resnet"))
        let j = try runBSS(["presets", "--json", "--classes", "100"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        let rows = try XCTUnwrap(root["presets"] as? [[String: Any]])
        let r32x4 = try XCTUnwrap(rows.first { $0["name"] as? String == "repdistiller-resnet32x4" })
        XCTAssertEqual(r32x4["parameters"] as? Int, 7_433_860)   // RepDistiller's CIFAR-100 count
        XCTAssertEqual(r32x4["family"] as? String, "repdistiller")
        XCTAssertEqual(r32x4["input_shape"] as? [Int], [3, 32, 32])
        let r50 = try XCTUnwrap(rows.first { $0["name"] as? String == "torchvision-resnet50" })
        XCTAssertEqual(r50["family"] as? String, "torchvision")
        XCTAssertEqual(r50["input_shape"] as? [Int], [3, 224, 224])
        XCTAssertEqual(r50["source"] as? String, "pytorch/vision torchvision/models/resnet.py")
        let sv2 = try XCTUnwrap(rows.first { $0["name"] as? String == "repdistiller-shufflev2" })
        XCTAssertEqual(sv2["parameters"] as? Int, 1_355_528)   // RepDistiller's CIFAR-100 count
    }

    func testVerifyPassesForTheRightFamily() throws {
        for name in ["akamaster-resnet20", "heo2019-resnet8", "repdistiller-wrn_16_1"] {
            let r = try runBSS(["verify", zoo(name + ".npz"), "--arch", name, "--data", zoo("inputs.npz"),
                                "--reference", zoo(name + "-logits.npz")])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stdout) \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("argmax agreement: 4/4"), r.stdout)
            XCTAssertTrue(r.stdout.contains("result:           PASS"), r.stdout)
            XCTAssertTrue(r.stdout.contains("max |difference|:"), r.stdout)
        }
    }

    /// akamaster weights load into heo2019 with no key error: only the logits tell, and verify says so.
    func testVerifyCatchesTheWrongFamily() throws {
        let r = try runBSS(["verify", zoo("akamaster-resnet20.npz"), "--arch", "heo2019-resnet20", "--data", zoo("inputs.npz"),
                            "--reference", zoo("akamaster-resnet20-logits.npz")])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("result:           FAIL"), r.stdout)
        assertCleanFailure(r, mentions: ["akamaster-resnet20.npz", "tolerance", "heo2019- vs akamaster-"])
        // A loose enough tolerance passes the same comparison.
        let loose = try runBSS(["verify", zoo("akamaster-resnet20.npz"), "--arch", "heo2019-resnet20", "--data", zoo("inputs.npz"),
                                "--reference", zoo("akamaster-resnet20-logits.npz"), "--tolerance", "1e6"])
        XCTAssertEqual(loose.status, 0, loose.stderr)
    }

    func testVerifyInputErrors() throws {
        let dir = temporaryDirectory("verify")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = ["verify", zoo("heo2019-resnet8.npz"), "--arch", "heo2019-resnet8", "--data", zoo("inputs.npz")]
        // logits.npz has one array per preset and none named 'logits'.
        assertCleanFailure(try runBSS(base + ["--reference", zoo("logits.npz")]), mentions: ["logits.npz", "no array 'logits'"])
        assertCleanFailure(try runBSS(base + ["--reference", zoo("repdistiller-resnet8-logits.npz")]),
                           mentions: ["repdistiller-resnet8-logits.npz", "[4, 100]", "expected [4, 10]"])
        assertCleanFailure(try runBSS(base + ["--reference", dir.appendingPathComponent("none.npz").path]), mentions: ["none.npz"])
        assertCleanFailure(try runBSS(["verify", zoo("heo2019-resnet8.npz"), "--arch", "cifar-resnet8", "--data", zoo("inputs.npz"),
                                       "--reference", zoo("heo2019-resnet8-logits.npz")]),
                           mentions: ["cifar-resnet8", "heo2019-resnet8", "akamaster-resnet8"])
        let bad = try runBSS(base + ["--reference", zoo("heo2019-resnet8-logits.npz"), "--tolerance", "0"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--tolerance"), bad.stderr)
    }
}
