// swift-tools-version:6.1
//
// Strata storage benchmarks: a separate package so the root manifest and `swift test` never build them.
//   StorageBenchKit    — fixtures (batches, logs in a temp dir), baselines and the Strata workloads they face
//   StorageRatios      — executable: baseline and Strata alternately in one process, medians and ratios
//   StorageBenchmarks  — ordo-one/benchmark target: malloc counts and latency distributions
// Run `tools/bench-storage` from the repository root, or `cd Benchmarks && swift package benchmark`.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "StrataBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "strata", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .target(
            name: "StorageBenchKit",
            dependencies: [
                .product(name: "StrataRecords", package: "strata"),
                .product(name: "StrataStorage", package: "strata"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "StorageRatios",
            dependencies: ["StorageBenchKit"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "StorageBenchmarks",
            dependencies: [
                "StorageBenchKit",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "StrataRecords", package: "strata"),
                .product(name: "StrataStorage", package: "strata"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/StorageBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
