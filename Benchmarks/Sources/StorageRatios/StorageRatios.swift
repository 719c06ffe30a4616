import StorageBenchKit
@main
struct StorageRatios { static func main() {} }
