using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Spright.Diffusion.Benchmarks;

// dotnet run -c Release --project benchmarks/Spright.Diffusion.Benchmarks -- --filter '*'   (see README, "Performance")
// dotnet run -c Release --project benchmarks/Spright.Diffusion.Benchmarks -- fullsize-check [phases]   (docs/benchmarks/)
if (args.Length > 0 && args[0] == "fullsize-check")
{
    return FullSizeCheck.Run(args[1..]);
}
// dotnet run -c Release --project benchmarks/Spright.Diffusion.Benchmarks -- profile MODEL.onnx [--shape name=AxB ...]   (per-operator profile)
if (args.Length > 0 && args[0] == "profile")
{
    return OperatorProfile.Run(args[1..]);
}
IConfig config = DefaultConfig.Instance.WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(40));
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
return 0;
