using System.Diagnostics.CodeAnalysis;
using System.Reflection;

namespace Spright.Diffusion.Schedulers;

/// <summary>The one place option enums are parsed from and written as their diffusers spellings
/// (<see cref="ConfigNameAttribute"/> on each member).</summary>
internal static class ConfigNames
{
    /// <summary>The diffusers spelling of <paramref name="value"/> (an undefined value as its number, which no option accepts).</summary>
    public static string Of<TEnum>(TEnum value)
        where TEnum : struct, Enum => Table<TEnum>.Names.TryGetValue(value, out string? name) ? name : value.ToString();

    /// <summary>The member spelled <paramref name="name"/>, if any.</summary>
    public static bool TryParse<TEnum>(string name, out TEnum value)
        where TEnum : struct, Enum => Table<TEnum>.Values.TryGetValue(name, out value);

    private static class Table<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicFields)] TEnum>
        where TEnum : struct, Enum
    {
        public static readonly Dictionary<TEnum, string> Names = typeof(TEnum).GetFields(BindingFlags.Public | BindingFlags.Static)
            .ToDictionary(f => (TEnum)f.GetValue(null)!, f => f.GetCustomAttribute<ConfigNameAttribute>()?.Name
                ?? throw new InvalidOperationException($"{typeof(TEnum).Name}.{f.Name} has no configuration name."));

        public static readonly Dictionary<string, TEnum> Values = Names.ToDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);
    }
}
