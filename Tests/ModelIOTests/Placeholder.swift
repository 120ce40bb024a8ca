import XCTest
final class ModelIOTestsPlaceholder: XCTestCase { func testBuilds() {} }
