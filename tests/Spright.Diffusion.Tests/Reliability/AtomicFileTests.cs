using Spright.Diffusion.IO;
using Spright.Diffusion.Numerics;

namespace Spright.Diffusion.Tests.Reliability;

/// <summary>Nothing half-written: files appear complete or not at all, and a set of files appears together or not at all.</summary>
public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("spright-atomic-").FullName;

    [Fact]
    public void A_failing_writer_leaves_no_file_and_keeps_the_old_one()
    {
        string fresh = Path.Combine(_dir, "fresh.png");
        string existing = Path.Combine(_dir, "existing.png");
        File.WriteAllText(existing, "old");

        Assert.Throws<IOException>(() => AtomicFile.Write(fresh, s => { s.Write(new byte[1000]); throw new IOException("disk full"); }));
        Assert.Throws<IOException>(() => AtomicFile.Write(existing, s => { s.Write(new byte[1000]); throw new IOException("disk full"); }));

        Assert.False(File.Exists(fresh));
        Assert.Equal("old", File.ReadAllText(existing));
        Assert.Equal(["existing.png"], Names());
    }

    [Fact]
    public void WriteAll_writes_every_file_or_none()
    {
        string a = Path.Combine(_dir, "a.png"), b = Path.Combine(_dir, "b.npy"), c = Path.Combine(_dir, "c.npy");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.WriteAll(
        [
            (a, s => s.WriteByte(1)),
            (b, s => s.WriteByte(2)),
            (c, s => throw new InvalidOperationException("encoder failed")),
        ]));
        Assert.Empty(Names());

        AtomicFile.WriteAll([(a, s => s.WriteByte(1)), (b, s => s.WriteByte(2))]);
        Assert.Equal(["a.png", "b.npy"], Names());
        Assert.Equal([2], File.ReadAllBytes(b));
    }

    [Fact]
    public void WriteAll_cancelled_before_the_moves_writes_nothing()
    {
        using var cts = new CancellationTokenSource();
        string a = Path.Combine(_dir, "a.png"), b = Path.Combine(_dir, "b.png");
        Assert.ThrowsAny<OperationCanceledException>(() => AtomicFile.WriteAll(
        [
            (a, s => s.WriteByte(1)),
            (b, s => { s.WriteByte(2); cts.Cancel(); }), // Ctrl+C while the last file is being written
        ], cts.Token));
        Assert.Empty(Names());
    }

    [Fact]
    public void Destinations_are_checked_before_anything_is_written()
    {
        string ok = Path.Combine(_dir, "ok.png");
        Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.WriteAll([(ok, s => s.WriteByte(1)), (Path.Combine(_dir, "missing", "x.npy"), s => s.WriteByte(1))]));
        Assert.Equal("files", Assert.Throws<ArgumentException>(() => AtomicFile.WriteAll([(ok, s => s.WriteByte(1)), (ok, s => s.WriteByte(2))])).ParamName);
        Assert.Equal("path", Assert.Throws<ArgumentException>(() => AtomicFile.CheckDestination(_dir)).ParamName);
        Assert.Empty(Names());
    }

    [Fact]
    public void Devices_fifos_and_folders_are_refused_before_anything_is_written()
    {
        Assert.Throws<ArgumentException>(() => AtomicFile.CheckDestination(_dir));
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        // A character device is only checked, never written (the check comes first).
        Assert.Contains("not a regular file", Assert.Throws<ArgumentException>(() => AtomicFile.CheckDestination("/dev/null")).Message, StringComparison.Ordinal);
        string fifo = Path.Combine(_dir, "out.png");
        ImageInputLimitTests.MakeFifo(fifo);
        Assert.Throws<ArgumentException>(() => AtomicFile.Write(fifo, s => s.WriteByte(1)));
        Assert.True(IO.SafeFiles.KindOf(fifo) == IO.FileKind.Special, "the FIFO was replaced");
        string linkToFifo = Path.Combine(_dir, "link.png");
        File.CreateSymbolicLink(linkToFifo, fifo);
        Assert.Throws<ArgumentException>(() => AtomicFile.Write(linkToFifo, s => s.WriteByte(1)));
        Assert.NotNull(new FileInfo(linkToFifo).LinkTarget);
        Assert.Equal(["link.png", "out.png"], Names());
    }

    [Fact]
    public void A_symbolic_link_is_written_through_to_its_target_and_stays_a_link()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        string targetDir = Directory.CreateDirectory(Path.Combine(_dir, "real")).FullName;
        string target = Path.Combine(targetDir, "image.png");
        File.WriteAllText(target, "old");
        string link = Path.Combine(_dir, "image.png");
        File.CreateSymbolicLink(link, Path.Combine("real", "image.png"));

        AtomicFile.Write(link, s => s.Write("new"u8));

        Assert.Equal(Path.Combine("real", "image.png"), new FileInfo(link).LinkTarget);
        Assert.Equal("new", File.ReadAllText(target));
        Assert.Equal(["image.png"], Directory.EnumerateFileSystemEntries(targetDir).Select(Path.GetFileName));
    }

    [Fact]
    public void Npy_files_are_written_atomically_too()
    {
        string path = Path.Combine(_dir, "x.npy");
        NpyFile.Save(path, TensorShapes.Wrap([1f, 2f, 3f], 3));
        Assert.Equal([1f, 2f, 3f], TensorShapes.AsSpan(NpyFile.Load(path)).ToArray());
        Assert.Equal(["x.npy"], Names());
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string[] Names() => Directory.EnumerateFileSystemEntries(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
}
