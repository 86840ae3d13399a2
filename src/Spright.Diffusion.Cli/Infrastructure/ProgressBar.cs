using System.Globalization;

namespace Spright.Diffusion.Cli.Infrastructure;

/// <summary>A one-line progress bar on stderr, redrawn in place.</summary>
internal sealed class ProgressBar : IProgress<GenerationProgress>
{
    private const int Width = 30;
    private readonly object _gate = new();
    private bool _drawn;

    public void Report(GenerationProgress value)
    {
        lock (_gate)
        {
            int filled = value.TotalSteps == 0 ? Width : value.Step * Width / value.TotalSteps;
            string bar = new string('#', filled) + new string('.', Width - filled);
            double perStep = value.Elapsed.TotalSeconds / Math.Max(1, value.Step);
            Console.Error.Write(string.Create(CultureInfo.InvariantCulture,
                $"\r[{bar}] {value.Step}/{value.TotalSteps} t={value.Timestep:0.###} {value.Elapsed.TotalSeconds:0.0}s ({perStep:0.00}s/step)"));
            _drawn = true;
        }
    }

    /// <summary>Ends the bar's line (call before printing anything else).</summary>
    public void Finish()
    {
        lock (_gate)
        {
            if (_drawn)
            {
                Console.Error.WriteLine();
                _drawn = false;
            }
        }
    }
}
