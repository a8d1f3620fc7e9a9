using System.Text;
using Colab.Daemon.Drive;

namespace Colab.Daemon.Tests.Drive;

/// <summary>My Drive, Shared drives and Shared with me through the production client and the stand-in.</summary>
public sealed class DriveRootsTests : IAsyncLifetime
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private DriveStandIn _drive = null!;

    public async Task InitializeAsync() => _drive = await DriveStandIn.StartAsync();

    public async Task DisposeAsync()
    {
        await _drive.DisposeAsync();
        _http.Dispose();
    }

    private DriveApiBackend Api() => new(_http, _drive.BaseUrl, new StaticDriveToken("test-token"));

    private async Task DrivesAsync(string json)
    {
        using var r = await _http.PostAsync(_drive.BaseUrl + "__control/drives", new StringContent(json, Encoding.UTF8, "application/json"));
        r.EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task SharedDrives_AreListedAsFolders_AndTheirContentComesFromTheDriveCorpus()
    {
        await DrivesAsync("""[{"id":"0ATeamB","name":"Team B"},{"id":"0ATeamA","name":"Team A"}]""");
        await _drive.AddFilesAsync(
            new { name = "team-notes.ipynb", parents = new[] { "0ATeamA" }, driveId = "0ATeamA", contentBase64 = "e30=" },
            new { name = "mine.txt", contentBase64 = "aGk=" });
        var api = Api();

        var drives = await api.ListAsync(new DriveListRequest(DriveRoots.SharedDrives), CancellationToken.None);
        Assert.Equal(["Team A", "Team B"], drives.Items.Select(i => i.Name));
        Assert.All(drives.Items, d => Assert.True(d.IsFolder));
        Assert.Equal("0ATeamA", drives.Items[0].DriveId);

        var inTeam = await api.ListAsync(new DriveListRequest("0ATeamA", DriveId: "0ATeamA"), CancellationToken.None);
        var notes = Assert.Single(inTeam.Items);
        Assert.Equal("team-notes.ipynb", notes.Name);
        Assert.Equal("0ATeamA", notes.DriveId);
        var requests = await _drive.RequestsAsync();
        Assert.Contains(requests, r => r!["url"]!.GetValue<string>().Contains("corpora=drive&driveId=0ATeamA", StringComparison.Ordinal));

        // My Drive does not show shared-drive items.
        var mine = await api.ListAsync(new DriveListRequest(DriveRoots.MyDrive), CancellationToken.None);
        Assert.Equal(["mine.txt"], mine.Items.Select(i => i.Name));

        var searched = await api.ListAsync(new DriveListRequest(DriveRoots.SharedDrives, NameContains: "b"), CancellationToken.None);
        Assert.Equal(["Team B"], searched.Items.Select(i => i.Name));
    }

    [Fact]
    public async Task SharedDrives_ArePagedAtMost100AtATime()
    {
        await DrivesAsync("[" + string.Join(',', Enumerable.Range(0, 150).Select(i => $$"""{"id":"0AD{{i:000}}","name":"d{{i:000}}"}""")) + "]");
        var api = Api();
        var first = await api.ListAsync(new DriveListRequest(DriveRoots.SharedDrives), CancellationToken.None);
        Assert.Equal(100, first.Items.Count);
        Assert.NotNull(first.NextPageToken);
        var second = await api.ListAsync(new DriveListRequest(DriveRoots.SharedDrives, PageToken: first.NextPageToken), CancellationToken.None);
        Assert.Equal(50, second.Items.Count);
        Assert.Null(second.NextPageToken);
        Assert.Equal(150, first.Items.Concat(second.Items).Select(i => i.Id).Distinct().Count());
    }

    [Fact]
    public async Task SharedWithMe_ListsOnlyWhatOthersShared_SearchableByName()
    {
        await _drive.AddFilesAsync(
            new { name = "from-alice.ipynb", parents = new[] { "someone-elses-folder" }, sharedWithMe = true, contentBase64 = "e30=" },
            new { name = "from-bob.csv", parents = new[] { "another" }, sharedWithMe = true, contentBase64 = "YQ==" },
            new { name = "mine.txt", contentBase64 = "aGk=" });
        var api = Api();
        var shared = await api.ListAsync(new DriveListRequest(DriveRoots.SharedWithMe), CancellationToken.None);
        Assert.Equal(["from-alice.ipynb", "from-bob.csv"], shared.Items.Select(i => i.Name));
        var searched = await api.ListAsync(new DriveListRequest(DriveRoots.SharedWithMe, NameContains: "bob"), CancellationToken.None);
        Assert.Equal(["from-bob.csv"], searched.Items.Select(i => i.Name));
    }

    [Fact]
    public async Task AHostileDriveId_IsRefusedBeforeAnyRequest()
    {
        var e = await Assert.ThrowsAsync<DriveException>(() => Api().ListAsync(new DriveListRequest("0ATeamA", DriveId: "x&corpora=allDrives"), CancellationToken.None));
        Assert.Equal(DriveErrorKind.InvalidInput, e.Kind);
        Assert.Empty(await _drive.RequestsAsync());
    }
}
