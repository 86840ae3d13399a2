namespace Spright.Diffusion.Tokenization.Unicode;

/// <summary>An immutable set of code points stored as sorted, disjoint inclusive ranges.</summary>
internal sealed class CodePointSet
{
    private readonly int[] _starts;
    private readonly int[] _ends;

    public CodePointSet(IReadOnlyList<(int Start, int End)> ranges)
    {
        var sorted = ranges.OrderBy(r => r.Start).ToArray();
        _starts = sorted.Select(r => r.Start).ToArray();
        _ends = sorted.Select(r => r.End).ToArray();
    }

    /// <summary>The ranges, in ascending order.</summary>
    public IEnumerable<(int Start, int End)> Ranges => _starts.Select((s, i) => (s, _ends[i]));

    public bool Contains(int codePoint)
    {
        int index = Array.BinarySearch(_starts, codePoint);
        if (index >= 0)
        {
            return true;
        }
        index = ~index - 1;
        return index >= 0 && codePoint <= _ends[index];
    }

    /// <summary>Parses lines of <c>HEX</c> or <c>HEX-HEX</c>.</summary>
    public static CodePointSet Parse(IEnumerable<string> lines)
    {
        var ranges = new List<(int, int)>();
        foreach (string line in lines)
        {
            int dash = line.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                int cp = ParseHex(line);
                ranges.Add((cp, cp));
            }
            else
            {
                ranges.Add((ParseHex(line.AsSpan(0, dash)), ParseHex(line.AsSpan(dash + 1))));
            }
        }
        return new CodePointSet(ranges);
    }

    internal static int ParseHex(ReadOnlySpan<char> text) =>
        int.Parse(text, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A total map from code points to a small value, stored as runs (start of each run and its value).</summary>
internal sealed class CodePointRuns<T>
{
    private readonly int[] _starts;
    private readonly T[] _values;
    private readonly T[] _bmp;

    public CodePointRuns(IReadOnlyList<(int Start, T Value)> runs)
    {
        _starts = runs.Select(r => r.Start).ToArray();
        _values = runs.Select(r => r.Value).ToArray();
        if (_starts.Length == 0 || _starts[0] != 0)
        {
            throw new ArgumentException("The first run must start at U+0000.", nameof(runs));
        }
        _bmp = new T[0x10000];
        for (int cp = 0; cp < _bmp.Length; cp++)
        {
            _bmp[cp] = LookUp(cp);
        }
    }

    public T this[int codePoint] => (uint)codePoint < 0x10000u ? _bmp[codePoint] : LookUp(codePoint);

    private T LookUp(int codePoint)
    {
        int index = Array.BinarySearch(_starts, codePoint);
        if (index < 0)
        {
            index = ~index - 1;
        }
        return _values[index];
    }
}
