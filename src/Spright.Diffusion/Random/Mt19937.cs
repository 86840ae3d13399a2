namespace Spright.Diffusion.Random;

/// <summary>
/// The 32-bit Mersenne Twister (MT19937, Matsumoto–Nishimura <c>init_genrand</c> seeding), the engine behind
/// torch's CPU generator (<c>aten/src/ATen/core/MT19937RNGEngine.h</c>). Produces the same stream as
/// C++ <c>std::mt19937</c>.
/// </summary>
internal struct Mt19937
{
    private const int N = 624;
    private const int M = 397;
    private const uint MatrixA = 0x9908B0DFu;
    private const uint UpperMask = 0x80000000u;
    private const uint LowerMask = 0x7FFFFFFFu;

    private uint[] _state;
    private int _next;

    public Mt19937(uint seed)
    {
        _state = new uint[N];
        _next = N; // the first draw twists
        Seed(seed);
    }

    public void Seed(uint seed)
    {
        _state[0] = seed;
        for (int i = 1; i < N; i++)
        {
            uint prev = _state[i - 1];
            _state[i] = unchecked(1812433253u * (prev ^ (prev >> 30)) + (uint)i);
        }
        _next = N;
    }

    public uint NextUInt32()
    {
        if (_next >= N)
        {
            Twist();
        }

        uint y = _state[_next++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9D2C5680u;
        y ^= (y << 15) & 0xEFC60000u;
        y ^= y >> 18;
        return y;
    }

    public readonly Mt19937 Clone()
    {
        var copy = new Mt19937 { _state = (uint[])_state.Clone(), _next = _next };
        return copy;
    }

    internal readonly uint[] CopyState() => (uint[])_state.Clone();

    internal readonly int Position => _next;

    internal void Restore(ReadOnlySpan<uint> state, int position)
    {
        state.CopyTo(_state);
        _next = position;
    }

    private void Twist()
    {
        uint[] s = _state;
        int k = 0;
        for (; k < N - M; k++)
        {
            uint y = (s[k] & UpperMask) | (s[k + 1] & LowerMask);
            s[k] = s[k + M] ^ (y >> 1) ^ ((y & 1u) * MatrixA);
        }
        for (; k < N - 1; k++)
        {
            uint y = (s[k] & UpperMask) | (s[k + 1] & LowerMask);
            s[k] = s[k + (M - N)] ^ (y >> 1) ^ ((y & 1u) * MatrixA);
        }
        uint last = (s[N - 1] & UpperMask) | (s[0] & LowerMask);
        s[N - 1] = s[M - 1] ^ (last >> 1) ^ ((last & 1u) * MatrixA);
        _next = 0;
    }
}
