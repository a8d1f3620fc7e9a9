using System.Text;
using System.Text.Json.Nodes;
using Colab.Daemon.Drive;
using Colab.Daemon.Tests.Drive;
using Colab.Daemon.Training;
using static Colab.Daemon.Tests.Training.TrainingTestSupport;

namespace Colab.Daemon.Tests.Training;

/// <summary>
/// Checkpoints mirrored to a Drive folder through the Drive capability: the production Drive client
/// against the v3 stand-in over real HTTP, and a mounted folder. Verified uploads, the manifest only
/// after its payloads, pruning to the trash last, resume on a new machine from Drive.
/// </summary>
public sealed class DriveCheckpointMirrorTests : IAsyncLifetime
{
    private static readonly DriveRetryPolicy Fast = new(MaxAttempts: 3, BaseDelay: TimeSpan.FromMilliseconds(5), MaxDelay: TimeSpan.FromMilliseconds(50));
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };
    private readonly string _work = TempDirectory("dmwork");
    private DriveStandIn _drive = null!;
    private DriveApiBackend _api = null!;
    private string _folder = "";

    public async Task InitializeAsync()
    {
        _drive = await DriveStandIn.StartAsync();
        _api = new DriveApiBackend(_http, _drive.BaseUrl, new StaticDriveToken("test-token"), Fast);
        _folder = (await _drive.AddFilesAsync(new { name = "checkpoints", mimeType = DriveMime.Folder }))[0]!["id"]!.GetValue<string>();
    }

    public async Task DisposeAsync()
    {
        await _drive.DisposeAsync();
        _http.Dispose();
    }

    private static byte[] Payload(int step, int size = 5000)
    {
        var b = new byte[size];
        new Random(step).NextBytes(b);
        return b;
    }

    /// <summary>The folder's files that are not in the trash, by name.</summary>
    private async Task<Dictionary<string, DriveItem>> OnDriveAsync()
    {
        var page = await _api.ListAsync(new DriveListRequest(_folder), CancellationToken.None);
        return page.Items.ToDictionary(i => i.Name, StringComparer.Ordinal);
    }

    private async Task<CheckpointManifest> DriveManifestAsync()
    {
        var files = await OnDriveAsync();
        var raw = await _drive.ContentAsync(files[CheckpointStore.ManifestName].Id);
        return CheckpointStore.Parse(raw, "drive manifest");
    }

    private async Task<int> UploadsAsync()
        => (await _drive.RequestsAsync()).Count(r => r!["url"]?.GetValue<string>()?.StartsWith("/upload/", StringComparison.Ordinal) == true && r["method"]?.GetValue<string>() is "POST" or "PATCH");

    [Fact]
    public async Task Sync_UploadsEachNewCheckpoint_ThenTheManifest_AndTrashesWhatItNoLongerNames()
    {
        var src = TempDirectory("dmsrc");
        var store = new CheckpointStore(src, "m", keep: 3);
        await store.CommitAsync(1, 0, Payload(1));
        await store.CommitAsync(2, 0, Payload(2));
        var r = await DriveCheckpointMirror.SyncAsync(_api, src, _folder, 2, _work, CancellationToken.None);
        Assert.Null(r.Error);
        Assert.Equal(2, r.Copied);
        Assert.Equal(2, r.NewestStep);
        var files = await OnDriveAsync();
        Assert.Equal(
            [CheckpointStore.FileNameFor(1), CheckpointStore.FileNameFor(2), CheckpointStore.ManifestName],
            files.Keys.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(Payload(2), await _drive.ContentAsync(files[CheckpointStore.FileNameFor(2)].Id));
        Assert.Equal(new long[] { 1L, 2L }, (await DriveManifestAsync()).Checkpoints.Select(c => c.Step).ToArray());

        // Nothing new: nothing is sent.
        var uploads = await UploadsAsync();
        var again = await DriveCheckpointMirror.SyncAsync(_api, src, _folder, 2, _work, CancellationToken.None);
        Assert.Null(again.Error);
        Assert.Equal(0, again.Copied);
        Assert.Equal(uploads, await UploadsAsync());

        // Two more: the manifest names 3 and 4, and 1 and 2 went to the trash (recoverable), not deleted.
        var old = files[CheckpointStore.FileNameFor(1)].Id;
        await store.CommitAsync(3, 1, Payload(3));
        await store.CommitAsync(4, 1, Payload(4));
        r = await DriveCheckpointMirror.SyncAsync(_api, src, _folder, 2, _work, CancellationToken.None);
        Assert.Null(r.Error);
        Assert.Equal(2, r.Copied);
        Assert.Equal(4, r.NewestStep);
        files = await OnDriveAsync();
        Assert.Equal(
            [CheckpointStore.FileNameFor(3), CheckpointStore.FileNameFor(4), CheckpointStore.ManifestName],
            files.Keys.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal(new long[] { 3L, 4L }, (await DriveManifestAsync()).Checkpoints.Select(c => c.Step).ToArray());
        Assert.Equal(Payload(1), await _drive.ContentAsync(old));
        var manifests = (await _api.ListAsync(new DriveListRequest(_folder), CancellationToken.None)).Items.Count(i => i.Name == CheckpointStore.ManifestName);
        Assert.Equal(1, manifests); // replaced in place, not a second file
    }

    [Fact]
    public async Task Sync_ACorruptPayload_IsNotUploaded_AndTheDriveCopyStaysAsItWas()
    {
        var src = TempDirectory("dmcor");
        var store = new CheckpointStore(src, "m", keep: 3);
        await store.CommitAsync(1, 0, Payload(1));
        Assert.Null((await DriveCheckpointMirror.SyncAsync(_api, src, _folder, 3, _work, CancellationToken.None)).Error);
        await store.CommitAsync(2, 0, Payload(2));
        var path = Path.Combine(src, CheckpointStore.FileNameFor(2));
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[100] ^= 0x40;
        await File.WriteAllBytesAsync(path, bytes);

        var r = await DriveCheckpointMirror.SyncAsync(_api, src, _folder, 3, _work, CancellationToken.None);
        Assert.Equal(0, r.Copied);
        Assert.Contains("step 2 was not mirrored to Drive: the job's copy is corrupt (sha256 mismatch)", r.Error, StringComparison.Ordinal);
        Assert.Equal(new long[] { 1L }, (await DriveManifestAsync()).Checkpoints.Select(c => c.Step).ToArray());
        Assert.False((await OnDriveAsync()).ContainsKey(CheckpointStore.FileNameFor(2)));
        Assert.Empty(Directory.GetFiles(_work)); // no temp file left behind
    }

    [Fact]
    public async Task Sync_WhenDriveStoresSomethingElse_TheManifestDoesNotNameIt_AndTheNextPassMends_It()
    {
        var src = TempDirectory("dmmd5");
        var store = new CheckpointStore(src, "m", keep: 3);
        await store.CommitAsync(1, 0, Payload(1));
        Assert.Null((await DriveCheckpointMirror.SyncAsync(_api, src, _folder, 3, _work, CancellationToken.None)).Error);
        await store.CommitAsync(2, 0, Payload(2));
        await _drive.FaultAsync(new { on = "upload", wrongMd5 = true, wrongSha256 = true });

        var r = await DriveCheckpointMirror.SyncAsync(_api, src, _folder, 3, _work, CancellationToken.None);
        Assert.NotNull(r.Error);
        Assert.Contains("verification", r.Error, StringComparison.Ordinal);
        Assert.Equal(new long[] { 1L }, (await DriveManifestAsync()).Checkpoints.Select(c => c.Step).ToArray());

        r = await DriveCheckpointMirror.SyncAsync(_api, src, _folder, 3, _work, CancellationToken.None);
        Assert.Null(r.Error);
        Assert.Equal(new long[] { 1L, 2L }, (await DriveManifestAsync()).Checkpoints.Select(c => c.Step).ToArray());
        Assert.Equal(Payload(2), await _drive.ContentAsync((await OnDriveAsync())[CheckpointStore.FileNameFor(2)].Id));
    }

    [Fact]
    public async Task Sync_RefusesAFolderOfAnotherModel_AndAMalformedManifest_AndAFile_WithClearErrors()
    {
        var src = TempDirectory("dmbad");
        await new CheckpointStore(src, "m", keep: 3).CommitAsync(1, 0, Payload(1));
        var other = TempDirectory("dmoth");
        await new CheckpointStore(other, "other-model", keep: 3).CommitAsync(1, 0, Payload(1));
        Assert.Null((await DriveCheckpointMirror.SyncAsync(_api, other, _folder, 3, _work, CancellationToken.None)).Error);

        var r = await DriveCheckpointMirror.SyncAsync(_api, src, _folder, 3, _work, CancellationToken.None);
        Assert.Contains("holds checkpoints of model 'other-model', not 'm'", r.Error, StringComparison.Ordinal);

        var garbage = (await _drive.AddFilesAsync(new { name = "g", mimeType = DriveMime.Folder }))[0]!["id"]!.GetValue<string>();
        await _drive.AddFileAsync(CheckpointStore.ManifestName, Encoding.UTF8.GetBytes("{\"format\":\"colab-checkpoint/1\",\"model\":\"m\",\"checkpoints\":[{\"file\":\"../../etc/passwd\",\"step\":1,\"epoch\":0,\"time\":\"2026-01-01T00:00:00Z\",\"size\":1,\"sha256\":\"" + new string('0', 64) + "\"}]}"), garbage);
        r = await DriveCheckpointMirror.SyncAsync(_api, src, garbage, 3, _work, CancellationToken.None);
        Assert.Contains("is not a valid checkpoint manifest: bad entry '../../etc/passwd'", r.Error, StringComparison.Ordinal);

        var file = await _drive.AddFileAsync("not-a-folder.bin", [1, 2, 3]);
        r = await DriveCheckpointMirror.SyncAsync(_api, src, file, 3, _work, CancellationToken.None);
        Assert.Contains("is a file; give a Drive folder", r.Error, StringComparison.Ordinal);

        r = await DriveCheckpointMirror.SyncAsync(_api, src, "no-such-folder-id", 3, _work, CancellationToken.None);
        Assert.NotNull(r.Error);
        Assert.StartsWith("mirroring to Drive folder no-such-folder-id failed:", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restore_OnANewMachine_CommitsTheNewestCheckpointThatVerifies_SkippingACorruptOne()
    {
        var src = TempDirectory("dmrs");
        var store = new CheckpointStore(src, "m", keep: 3);
        await store.CommitAsync(1, 0, Payload(1));
        await store.CommitAsync(2, 1, Payload(2));
        Assert.Null((await DriveCheckpointMirror.SyncAsync(_api, src, _folder, 3, _work, CancellationToken.None)).Error);
        // Someone put a damaged copy of step 2 into the folder later (same name, newer): it must not be used.
        var damaged = Payload(2);
        damaged[10] ^= 1;
        await _drive.AddFilesAsync(new Dictionary<string, object?> { ["name"] = CheckpointStore.FileNameFor(2), ["contentBase64"] = Convert.ToBase64String(damaged), ["parents"] = new[] { _folder }, ["modifiedTime"] = "2030-01-01T00:00:00Z" });

        var fresh = Path.Combine(TempDirectory("dmnew"), "ckpt");
        var log = new List<string>();
        var step = await DriveCheckpointMirror.RestoreAsync(_api, _folder, fresh, 3, _work, log.Add, CancellationToken.None);
        Assert.Equal(1, step);
        Assert.Contains(log, l => l.Contains("checkpoint step 2", StringComparison.Ordinal) && l.Contains("does not verify", StringComparison.Ordinal));
        var restored = new CheckpointStore(fresh, "m", keep: 3).OpenNewest();
        Assert.NotNull(restored);
        using (var payload = restored.Value.Payload)
        {
            using var ms = new MemoryStream();
            payload.CopyTo(ms);
            Assert.Equal(Payload(1), ms.ToArray());
        }
        Assert.Equal(1, restored.Value.Entry.Step);

        // The job's own directory is as new as Drive: nothing is fetched.
        Assert.Null(await DriveCheckpointMirror.RestoreAsync(_api, _folder, fresh, 3, _work, log.Add, CancellationToken.None));
        // An empty folder: nothing to restore, no error.
        var empty = (await _drive.AddFilesAsync(new { name = "empty", mimeType = DriveMime.Folder }))[0]!["id"]!.GetValue<string>();
        Assert.Null(await DriveCheckpointMirror.RestoreAsync(_api, empty, TempDirectory("dmemp"), 3, _work, log.Add, CancellationToken.None));
    }

    [Fact]
    public async Task Restore_RefusesAnotherModelsCheckpointsInTheJobsDirectory()
    {
        var src = TempDirectory("dmrm");
        await new CheckpointStore(src, "m", keep: 3).CommitAsync(5, 0, Payload(5));
        Assert.Null((await DriveCheckpointMirror.SyncAsync(_api, src, _folder, 3, _work, CancellationToken.None)).Error);
        var local = TempDirectory("dmrl");
        await new CheckpointStore(local, "other", keep: 3).CommitAsync(1, 0, Payload(1));
        var e = await Assert.ThrowsAsync<CheckpointException>(() => DriveCheckpointMirror.RestoreAsync(_api, _folder, local, 3, _work, _ => { }, CancellationToken.None));
        Assert.Contains("holds checkpoints of model 'other', not 'm'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMountedDriveFolder_SyncsAndRestoresTheSameWay()
    {
        var root = TempDirectory("dmmount");
        Directory.CreateDirectory(Path.Combine(root, "runs"));
        var mounted = new FolderBackend(root);
        var src = TempDirectory("dmmsrc");
        var store = new CheckpointStore(src, "m", keep: 3);
        for (var s = 1; s <= 4; s++)
        {
            await store.CommitAsync(s, 0, Payload(s));
            Assert.Null((await DriveCheckpointMirror.SyncAsync(mounted, src, "runs", 2, _work, CancellationToken.None)).Error);
        }
        Assert.Equal(
            [CheckpointStore.FileNameFor(3), CheckpointStore.FileNameFor(4), CheckpointStore.ManifestName],
            Directory.GetFiles(Path.Combine(root, "runs")).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray());
        var fresh = TempDirectory("dmmnew");
        Assert.Equal(4, await DriveCheckpointMirror.RestoreAsync(mounted, "runs", fresh, 2, _work, _ => { }, CancellationToken.None));
        Assert.Equal(4, new CheckpointStore(fresh, "m", keep: 2).Verify().Single().Entry.Step);
    }

    [Fact]
    public async Task Trash_OnTheApi_MovesTheFileToTheTrash_AndRefusesAFolder()
    {
        var id = await _drive.AddFileAsync("x.bin", [1, 2, 3], _folder);
        await _api.TrashAsync(id, CancellationToken.None);
        Assert.DoesNotContain("x.bin", (await OnDriveAsync()).Keys);
        var patch = (await _drive.RequestsAsync()).Last(r => r!["method"]?.GetValue<string>() == "PATCH");
        Assert.StartsWith($"/drive/v3/files/{id}?", patch!["url"]!.GetValue<string>(), StringComparison.Ordinal);
        var e = await Assert.ThrowsAsync<DriveException>(() => _api.TrashAsync(_folder, CancellationToken.None));
        Assert.Equal(DriveErrorKind.InvalidInput, e.Kind);
    }
}
