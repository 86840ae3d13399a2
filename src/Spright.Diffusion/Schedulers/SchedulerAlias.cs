namespace Spright.Diffusion.Schedulers;

/// <summary>A sampler name and the diffusers scheduler configuration it stands for (see <see cref="SchedulerRegistry.Aliases"/>).</summary>
public sealed class SchedulerAlias
{
    internal SchedulerAlias(string name, string className, IReadOnlyList<KeyValuePair<string, object?>> overrides)
    {
        Name = name;
        ClassName = className;
        Overrides = overrides;
    }

    /// <summary>The sampler name, e.g. <c>DPM++ 2M Karras</c>.</summary>
    public string Name { get; }

    /// <summary>The diffusers class, e.g. <c>DPMSolverMultistepScheduler</c>.</summary>
    public string ClassName { get; }

    /// <summary>The options the name sets on top of the base configuration.</summary>
    public IReadOnlyList<KeyValuePair<string, object?>> Overrides { get; }
}
