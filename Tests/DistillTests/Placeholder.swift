import XCTest
final class DistillTestsPlaceholder: XCTestCase { func testBuilds() {} }
