namespace Spright.Diffusion.Tokenization.Unicode;

/// <summary>
/// <c>unicodedata.normalize("NFC" | "NFKC", text)</c> with CPython 3.11's Unicode 14 data, independent of the ICU
/// version (or invariant-globalization mode) of the machine: decompose (canonical or compatibility, Hangul
/// algorithmically), order combining marks canonically, then compose canonically.
/// </summary>
internal static class PythonNormalization
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    /// <summary>NFC.</summary>
    public static string Nfc(string text) => Normalize(text, compatibility: false);

    /// <summary>NFKC.</summary>
    public static string Nfkc(string text) => Normalize(text, compatibility: true);

    private static string Normalize(string text, bool compatibility)
    {
        if (IsAsciiOnly(text))
        {
            return text;
        }
        PythonUnicodeData data = PythonUnicodeData.Instance;
        var buffer = new List<int>(text.Length + 8);
        for (int i = 0; i < text.Length;)
        {
            int cp = CodePoints.At(text, i, out int l);
            Decompose(cp, compatibility, data, buffer);
            i += l;
        }
        ReorderMarks(buffer, data);
        Compose(buffer, data);
        string result = CodePoints.FromList(buffer);
        return result == text ? text : result;
    }

    private static bool IsAsciiOnly(string text)
    {
        foreach (char c in text)
        {
            if (c >= 0x80)
            {
                return false;
            }
        }
        return true;
    }

    private static void Decompose(int cp, bool compatibility, PythonUnicodeData data, List<int> output)
    {
        if (cp is >= SBase and < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            int t = s % TCount;
            if (t != 0)
            {
                output.Add(TBase + t);
            }
            return;
        }
        if (data.Decompositions.TryGetValue(cp, out var d) && (compatibility || !d.Compatibility))
        {
            foreach (int part in d.Mapping)
            {
                Decompose(part, compatibility, data, output);
            }
            return;
        }
        output.Add(cp);
    }

    // Canonical ordering: a stable sort by combining class of every run of non-starters.
    private static void ReorderMarks(List<int> cps, PythonUnicodeData data)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int ccc = data.CombiningClass(cps[i]);
            if (ccc == 0)
            {
                continue;
            }
            int j = i;
            while (j > 0)
            {
                int prev = data.CombiningClass(cps[j - 1]);
                if (prev <= ccc)
                {
                    break;
                }
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
                j--;
            }
        }
    }

    private static void Compose(List<int> cps, PythonUnicodeData data)
    {
        if (cps.Count < 2)
        {
            return;
        }
        int starterPos = 0;
        int starter = cps[0];
        int lastClass = data.CombiningClass(starter);
        if (lastClass != 0)
        {
            lastClass = 256; // no starter yet: nothing can compose with it
        }
        int write = 1;
        for (int read = 1; read < cps.Count; read++)
        {
            int ch = cps[read];
            int chClass = data.CombiningClass(ch);
            int composite = lastClass < chClass || lastClass == 0 ? ComposePair(starter, ch, data) : -1;
            if (composite >= 0)
            {
                cps[starterPos] = composite;
                starter = composite;
                continue;
            }
            if (chClass == 0)
            {
                starterPos = write;
                starter = ch;
            }
            lastClass = chClass;
            cps[write++] = ch;
        }
        cps.RemoveRange(write, cps.Count - write);
    }

    private static int ComposePair(int first, int second, PythonUnicodeData data)
    {
        if (first is >= LBase and < LBase + LCount && second is >= VBase and < VBase + VCount)
        {
            return SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
        }
        if (first is >= SBase and < SBase + SCount && (first - SBase) % TCount == 0
            && second is > TBase and < TBase + TCount)
        {
            return first + (second - TBase);
        }
        return data.Compositions.TryGetValue(PythonUnicodeData.PairKey(first, second), out int c) ? c : -1;
    }
}
