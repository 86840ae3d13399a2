namespace Spright.Diffusion.Schedulers;

/// <summary>The value an option enum member has in diffusers' <c>scheduler_config.json</c> (e.g. <c>"v_prediction"</c>);
/// <see cref="ConfigNames"/> reads it.</summary>
/// <param name="name">The configuration spelling.</param>
[AttributeUsage(AttributeTargets.Field)]
internal sealed class ConfigNameAttribute(string name) : Attribute
{
    /// <summary>The configuration spelling.</summary>
    public string Name { get; } = name;
}
