using System.Globalization;

namespace Spright.Diffusion.Cli.Infrastructure;

/// <summary>A usage error: shown as one line, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// A small, strict command-line reader: <c>--name value</c> or <c>--name=value</c>, repeatable options, flags and
/// positional arguments. Every option must be declared; anything unknown or malformed is a <see cref="UsageException"/>
/// that names the option and the accepted values.
/// </summary>
internal sealed class ArgReader
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);
    private readonly List<string> _positionals = [];

    public ArgReader(IReadOnlyList<string> args, IReadOnlySet<string> valueOptions, IReadOnlySet<string> flagOptions)
    {
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg == "--")
            {
                _positionals.AddRange(args.Skip(i + 1));
                break;
            }
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Length > 2)
            {
                string name = arg;
                string? inline = null;
                int eq = arg.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    name = arg[..eq];
                    inline = arg[(eq + 1)..];
                }
                if (flagOptions.Contains(name))
                {
                    if (inline is not null)
                    {
                        throw new UsageException($"{name} takes no value");
                    }
                    _flags.Add(name);
                    continue;
                }
                if (!valueOptions.Contains(name))
                {
                    throw new UsageException($"unknown option {name} (run with --help to list the options)");
                }
                string value = inline ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"{name} needs a value"));
                if (!_values.TryGetValue(name, out List<string>? list))
                {
                    _values[name] = list = [];
                }
                list.Add(value);
                continue;
            }
            _positionals.Add(arg);
        }
    }

    public IReadOnlyList<string> Positionals => _positionals;

    public bool Flag(string name) => _flags.Contains(name);

    public IReadOnlyList<string> All(string name) => _values.TryGetValue(name, out List<string>? l) ? l : [];

    public string? String(string name)
    {
        IReadOnlyList<string> all = All(name);
        if (all.Count > 1)
        {
            throw new UsageException($"{name} was given {all.Count} times; give it once");
        }
        return all.Count == 1 ? all[0] : null;
    }

    public int? Int(string name, int min, int max)
    {
        string? s = String(name);
        if (s is null)
        {
            return null;
        }
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
        {
            throw new UsageException($"{name} must be an integer in [{min}, {max}]; got '{s}'");
        }
        return v;
    }

    public double? Double(string name, double min, double max)
    {
        string? s = String(name);
        if (s is null)
        {
            return null;
        }
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v) || v < min || v > max)
        {
            throw new UsageException($"{name} must be a number in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}]; got '{s}'");
        }
        return v;
    }

    public ulong? Seed(string name)
    {
        string? s = String(name);
        if (s is null)
        {
            return null;
        }
        if (ulong.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong u))
        {
            return u;
        }
        if (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l))
        {
            return unchecked((ulong)l); // torch wraps negative seeds
        }
        throw new UsageException($"{name} must be an integer; got '{s}'");
    }
}
