import XCTest
final class BoundaryTestsPlaceholder: XCTestCase { func testBuilds() {} }
