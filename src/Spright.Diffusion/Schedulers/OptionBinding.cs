using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Spright.Diffusion.Schedulers;

/// <summary>
/// How one option property of a <see cref="SchedulerOptions"/> type maps to its <c>scheduler_config.json</c> key (or,
/// for <see cref="SigmaSpacing"/>, keys): parsing with validation (the messages name the class, the key, the value and
/// what is allowed) and writing back. The factories below are the only kinds there are.
/// </summary>
internal abstract class OptionBinding
{
    private protected OptionBinding(string? property, params string[] keys)
    {
        Property = property;
        Keys = keys;
    }

    /// <summary>The options property, or <see langword="null"/> for a key without one (UniPC's <c>solver_p</c>).</summary>
    public string? Property { get; }

    /// <summary>The configuration keys, in diffusers' signature order.</summary>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>Whether the resolved configuration keeps a given value as written (integers are rewritten as integers).</summary>
    public virtual bool KeepsInputNode => true;

    /// <summary>The property value from the keys' nodes; <paramref name="present"/>[i] tells whether key i was given
    /// (else the property keeps <paramref name="current"/>'s part).</summary>
    public abstract object? Read(string className, ReadOnlySpan<JsonNode?> nodes, ReadOnlySpan<bool> present, object? current);

    /// <summary>The keys' nodes for a property value.</summary>
    public abstract void Write(object? value, Span<JsonNode?> nodes);

    public static OptionBinding Int(string key, string property, int min, int max) => new IntBinding(key, property, min, max);

    public static OptionBinding Double(string key, string property, double min = double.NegativeInfinity, double max = double.PositiveInfinity) =>
        new OneKey<double>(key, property, (c, k, n) =>
        {
            double d = AsDouble(c, k, n);
            return double.IsNaN(d) || d < min || d > max ? throw Invalid(c, k, n, $"a number in [{Format(min)}, {Format(max)}]") : d;
        }, NumberNode);

    public static OptionBinding NullableDouble(string key, string property, double min = double.NegativeInfinity, double max = double.PositiveInfinity) =>
        new OneKey<double?>(key, property, (c, k, n) =>
        {
            if (n is null)
            {
                return null;
            }
            double d = AsDouble(c, k, n);
            return double.IsNaN(d) || d < min || d > max ? throw Invalid(c, k, n, $"a number in [{Format(min)}, {Format(max)}] or null") : d;
        }, v => v is double d ? NumberNode(d) : null);

    public static OptionBinding Bool(string key, string property) => new OneKey<bool>(key, property, ParseBool, v => JsonValue.Create(v));

    public static OptionBinding Enum<TEnum>(string key, string property, params TEnum[] allowed)
        where TEnum : struct, Enum =>
        new OneKey<TEnum>(key, property, (c, k, n) => ParseEnum(c, k, n, allowed), v => JsonValue.Create(ConfigNames.Of(v)));

    public static OptionBinding NullableEnum<TEnum>(string key, string property, params TEnum[] allowed)
        where TEnum : struct, Enum =>
        new OneKey<TEnum?>(key, property, (c, k, n) => n is null ? null : ParseEnum(c, k, n, allowed), v => v is TEnum e ? JsonValue.Create(ConfigNames.Of(e)) : null);

    /// <summary>A list of numbers or null (<c>trained_betas</c>).</summary>
    public static OptionBinding NullableDoubleList(string key, string property) =>
        new OneKey<IReadOnlyList<double>?>(key, property, (c, k, n) =>
        {
            if (n is null)
            {
                return null;
            }
            if (n is not JsonArray array)
            {
                throw Invalid(c, k, n, "an array of numbers or null");
            }
            var result = new double[array.Count];
            for (int i = 0; i < result.Length; i++)
            {
                result[i] = AsDouble(c, k, array[i]);
            }
            return result;
        }, v => v is null ? null : new JsonArray(v.Select(d => (JsonNode?)NumberNode(d)).ToArray()));

    /// <summary>Step indices given as a number or a list of numbers (UniPC's <c>disable_corrector</c>).</summary>
    public static OptionBinding IndexList(string key, string property) =>
        new OneKey<IReadOnlyList<int>>(key, property, (c, k, n) =>
        {
            double[] values = n switch
            {
                null => [],
                JsonArray array => array.Select(item => AsDouble(c, k, item)).ToArray(),
                _ => [AsDouble(c, k, n)],
            };
            var result = new int[values.Length];
            for (int i = 0; i < result.Length; i++)
            {
                double d = values[i];
                if (d != Math.Floor(d) || !double.IsFinite(d))
                {
                    throw new ArgumentException($"{c} option '{k}' must be a list of step indices (integers); got {d.ToString(CultureInfo.InvariantCulture)}.", k);
                }
                result[i] = (int)Math.Clamp(d, int.MinValue, int.MaxValue);
            }
            return result;
        }, v => new JsonArray(v.Select(i => (JsonNode?)JsonValue.Create(i)).ToArray()));

    /// <summary>A key that must be null: the option exists in diffusers but is not supported (UniPC's <c>solver_p</c>).</summary>
    public static OptionBinding UnsupportedUnlessNull(string key) => new NullKey(key);

    /// <summary><c>use_karras_sigmas</c>, <c>use_exponential_sigmas</c> and <c>use_beta_sigmas</c> as one <see cref="SigmaSpacing"/>.</summary>
    public static OptionBinding SigmaFlags(string property) => new SigmaFlagsBinding(property);

    /// <summary>A number as diffusers writes it (non-finite values as the strings Python's json module accepts back).</summary>
    public static JsonValue NumberNode(double d) =>
        double.IsFinite(d) ? JsonValue.Create(d) : JsonValue.Create(double.IsNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");

    private static double AsDouble(string className, string key, JsonNode? node)
    {
        if (node is JsonValue v)
        {
            switch (v.GetValueKind())
            {
                case JsonValueKind.Number when Configuration.JsonNumbers.TryGetDouble(v, out double d):
                    return d;
                case JsonValueKind.String:
                    switch (v.GetValue<string>())
                    {
                        case "Infinity" or "inf":
                            return double.PositiveInfinity;
                        case "-Infinity" or "-inf":
                            return double.NegativeInfinity;
                        case "NaN" or "nan":
                            return double.NaN;
                    }
                    break;
            }
        }
        throw Invalid(className, key, node, "a number");
    }

    private static bool ParseBool(string className, string key, JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : throw Invalid(className, key, node, "true or false");

    private static TEnum ParseEnum<TEnum>(string className, string key, JsonNode? node, TEnum[] allowed)
        where TEnum : struct, Enum
    {
        if (node is JsonValue v && v.GetValueKind() == JsonValueKind.String && ConfigNames.TryParse(v.GetValue<string>(), out TEnum value) && allowed.Contains(value))
        {
            return value;
        }
        throw Invalid(className, key, node, $"one of {string.Join(", ", allowed.Select(a => '"' + ConfigNames.Of(a) + '"'))}");
    }

    private static ArgumentException Invalid(string className, string key, JsonNode? node, string expected) =>
        new($"{className} option '{key}' is {(node is null ? "null" : node.ToJsonString())}; expected {expected}.", key);

    private static string Format(double d) => double.IsInfinity(d) ? (d > 0 ? "∞" : "-∞") : d.ToString(CultureInfo.InvariantCulture);

    /// <summary>A property read from and written to one key.</summary>
    private class OneKey<T>(string key, string? property, Func<string, string, JsonNode?, T> parse, Func<T, JsonNode?> write) : OptionBinding(property, key)
    {
        public override object? Read(string className, ReadOnlySpan<JsonNode?> nodes, ReadOnlySpan<bool> present, object? current) =>
            present[0] ? parse(className, Keys[0], nodes[0]) : current;

        public override void Write(object? value, Span<JsonNode?> nodes) => nodes[0] = write((T)value!);
    }

    private sealed class IntBinding(string key, string property, int min, int max) : OneKey<int>(key, property, (c, k, n) =>
    {
        double d = AsDouble(c, k, n);
        return d != Math.Floor(d) || d < min || d > max ? throw Invalid(c, k, n, $"an integer in [{min}, {max}]") : (int)d;
    }, v => JsonValue.Create(v))
    {
        public override bool KeepsInputNode => false;
    }

    private sealed class NullKey(string key) : OneKey<object?>(key, null, (c, k, n) => n switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => throw new NotSupportedException($"{c} option '{k}' (an external predictor scheduler) is not supported; it must be null."),
        _ => throw Invalid(c, k, n, "a string"),
    }, _ => null);

    private sealed class SigmaFlagsBinding(string property)
        : OptionBinding(property, ConfigNames.Of(SigmaSpacing.Karras), ConfigNames.Of(SigmaSpacing.Exponential), ConfigNames.Of(SigmaSpacing.Beta))
    {
        private static readonly SigmaSpacing[] Flags = [SigmaSpacing.Karras, SigmaSpacing.Exponential, SigmaSpacing.Beta];

        public override object? Read(string className, ReadOnlySpan<JsonNode?> nodes, ReadOnlySpan<bool> present, object? current)
        {
            var spacing = (SigmaSpacing)current!;
            SigmaSpacing result = SigmaSpacing.None;
            int on = 0;
            for (int i = 0; i < Flags.Length; i++)
            {
                if (present[i] ? ParseBool(className, Keys[i], nodes[i]) : spacing == Flags[i])
                {
                    result = Flags[i];
                    on++;
                }
            }
            if (on > 1)
            {
                throw new ArgumentException(
                    $"{className}: only one of 'use_beta_sigmas', 'use_exponential_sigmas', 'use_karras_sigmas' can be true.", Keys[0]);
            }
            return result;
        }

        public override void Write(object? value, Span<JsonNode?> nodes)
        {
            for (int i = 0; i < Flags.Length; i++)
            {
                nodes[i] = JsonValue.Create((SigmaSpacing)value! == Flags[i]);
            }
        }
    }
}
