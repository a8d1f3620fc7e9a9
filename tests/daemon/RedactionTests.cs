using Colab.Daemon.JsonRpc;

namespace Colab.Daemon.Tests;

/// <summary>Nothing shaped like a credential leaves the daemon in an error message or a log line.</summary>
public sealed class RedactionTests
{
    [Theory]
    [InlineData("token=abc123def", "token=***")]
    [InlineData("GET /api?access_token=abc123def&scope=drive", "GET /api?access_token=***&scope=drive")]
    [InlineData("refresh_token: 1/abcdef", "refresh_token: ***")]
    [InlineData("Authorization: token 0123456789abcdef", "Authorization: ***")]
    [InlineData("authorization: Bearer abc.def.ghi", "authorization: ***")]
    [InlineData("failed with Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "failed with Bearer ***")]
    [InlineData("git said: token 0123456789abcdef0123 was refused", "git said: token *** was refused")]
    [InlineData("clone https://user:hunter2@github.com/org/repo.git failed", "clone https://***@github.com/org/repo.git failed")]
    [InlineData("password: hunter2", "password: ***")]
    [InlineData("client_secret=GOCSPX-abcdef123", "client_secret=***")]
    [InlineData("""{"access_token": "abc123", "expires_in": 3599}""", """{"access_token": "***", "expires_in": 3599}""")]
    [InlineData("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "***")]
    [InlineData("using github_pat_11ABCDEFG0123456789_abcdefghijklmnop now", "using *** now")]
    [InlineData("ya29.a0AfH6SMBx-very_long-token_value", "***")]
    [InlineData("refresh with 1//0gLongRefreshTokenValue-abcdefghij", "refresh with ***")]
    [InlineData("x-api-key: abc123", "x-api-key: ***")]
    [InlineData("API_KEY=sk0123", "API_KEY=***")]
    [InlineData("passwd=hunter2", "passwd=***")]
    [InlineData("sent Bearer abcdefghijklmnopqrstuvwxyz", "sent Bearer ***")]
    public void Redact_Credentials_AreMasked(string text, string expected)
    {
        Assert.Equal(expected, Redaction.Redact(text));
    }

    [Theory]
    [InlineData("https://x-access-token:gho_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r.git", "gho_16C7e42F292c6912E7710c838347Ae178B4a")]
    [InlineData("Authorization: token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789")]
    [InlineData("drive call failed: 401 for ya29.A0ARrdaM-abc_def (Bearer ya29.A0ARrdaM-abc_def)", "ya29.A0ARrdaM")]
    [InlineData("Exception: HTTP 401 https://oauth2:ya29.c.secretvalue@storage.googleapis.com/b", "secretvalue")]
    public void Redact_CredentialsInContext_LeaveNoTrace(string text, string secret)
    {
        var redacted = Redaction.Redact(text);

        Assert.DoesNotContain(secret, redacted);
        Assert.Contains(Redaction.Mask, redacted);
    }

    [Theory]
    [InlineData("Connected to runtime colab-1234 on port 8080; 3 kernels running.")]
    [InlineData("Invalid params for colab/diag/delay: milliseconds must be between 0 and 600000.")]
    [InlineData("https://colab.research.google.com/drive/1abc?authuser=0")]
    [InlineData("http://localhost:8888/lab/tree/notebook.ipynb")]
    [InlineData("mail me at someone@example.com")]
    [InlineData("ssh://git@github.com/org/repo.git")]
    [InlineData("/usr/bin/python3 lacks torch (Debian: apt-get install python3-torch)")]
    [InlineData("Method not found: colab/noSuchThing")]
    [InlineData("max_tokens: 512, tokens used: 100")]
    [InlineData("The kernel restarted at 12:30:45.")]
    [InlineData("403 Forbidden: token rejected by the server")]
    [InlineData("the token expired; sign in again")]
    [InlineData("monkey=banana, hotkey: ctrl+m")]
    [InlineData("Bearer authentication required")]
    [InlineData("")]
    public void Redact_OrdinaryText_IsUnchanged(string text)
    {
        Assert.Equal(text, Redaction.Redact(text));
    }
}
