#nullable enable
using System;
using System.Threading;
using System.Threading.Tasks;
using EDiffI.Bridge.Farm;
using EDiffI.Bridge.Protocol;
using UnityEditor;
using UnityEngine;
using BridgeProgress = EDiffI.Bridge.Protocol.Progress;

namespace EDiffI.Bridge.Unity.Editor
{
    /// <summary>
    /// The texture generator window's farm settings: when "Send to a farm" is on, Generate submits the request to a
    /// texture farm (NATS JetStream) instead of the local host, and follows its state and progress there. The
    /// settings are the user's (EditorPrefs), never the project's, and hold only the address, a user name and the
    /// paths of credential files: passwords and tokens stay in files or in the environment variables
    /// EDIFFI_NATS_PASSWORD and EDIFFI_NATS_TOKEN, never in the editor's preferences.
    /// </summary>
    public sealed class FarmSection
    {
        private const string Prefix = "EDiffI.Bridge.Farm.";
        private bool _loaded;
        private bool _enabled;
        private string _url = "";
        private string _user = "";
        private string _passwordFile = "";
        private string _tokenFile = "";
        private string _credsFile = "";
        private string _nkeyFile = "";
        private string _caFile = "";
        private FarmClient? _client;
        private string _clientSettings = "";

        /// <summary>True when Generate goes to the farm.</summary>
        public bool Enabled
        {
            get
            {
                Load();
                return _enabled;
            }
        }

        /// <summary>Draws the section (its settings only while it is on) and stores what changed.</summary>
        public void Draw(bool busy)
        {
            Load();
            GUI.enabled = !busy;
            _enabled = Field("Enabled", EditorGUILayout.Toggle("Send to a texture farm", _enabled));
            if (!_enabled)
            {
                GUI.enabled = true;
                return;
            }
            _url = Field("Url", EditorGUILayout.TextField("NATS server", _url));
            _user = Field("User", EditorGUILayout.TextField("User (optional)", _user));
            _passwordFile = Field("PasswordFile", EditorGUILayout.TextField("Password file", _passwordFile));
            _tokenFile = Field("TokenFile", EditorGUILayout.TextField("Token file", _tokenFile));
            _credsFile = Field("CredsFile", EditorGUILayout.TextField("Credentials file (.creds)", _credsFile));
            _nkeyFile = Field("NKeyFile", EditorGUILayout.TextField("NKey seed file", _nkeyFile));
            _caFile = Field("CaFile", EditorGUILayout.TextField("TLS CA file", _caFile));
            GUI.enabled = true;
            EditorGUILayout.HelpBox("Secrets never go here: name files, or set EDIFFI_NATS_PASSWORD / EDIFFI_NATS_TOKEN before starting Unity.", MessageType.None);
        }

        /// <summary>
        /// Runs <paramref name="request"/> on the farm: connects (again, when the settings changed), submits, reports each
        /// state change to <paramref name="state"/> and each step to <paramref name="progress"/>, and returns the result.
        /// Cancelling <paramref name="cancellationToken"/> cancels the job on the farm.
        /// </summary>
        public async Task<GenerateResult> GenerateAsync(GenerateRequest request, Action<BridgeProgress> progress, Action<string> state,
            CancellationToken cancellationToken)
        {
            var options = Options();
            string settings = string.Join("\n", _url, _user, _passwordFile, _tokenFile, _credsFile, _nkeyFile, _caFile);
            if (_client == null || settings != _clientSettings)
            {
                Close();
                state("connecting to the farm");
                _client = await FarmClient.ConnectAsync(options, cancellationToken: cancellationToken).ConfigureAwait(false);
                _clientSettings = settings;
            }
            return await _client.GenerateAsync(request, progress, s => state(s.ToString()), cancellationToken).ConfigureAwait(false);
        }

        /// <summary>Closes the farm connection (the window closes or scripts reload).</summary>
        public void Close()
        {
            var client = _client;
            _client = null;
            if (client != null) Task.Run(async () => await client.DisposeAsync().ConfigureAwait(false));
        }

        private FarmConnectOptions Options() => new FarmConnectOptions
        {
            Url = _url.Trim(),
            User = Blank(_user),
            PasswordFile = Blank(_passwordFile),
            TokenFile = Blank(_tokenFile),
            CredsFile = Blank(_credsFile),
            NKeyFile = Blank(_nkeyFile),
            CaFile = Blank(_caFile),
            Name = "ediffi-unity",
        };

        private static string? Blank(string value) => value.Trim().Length == 0 ? null : value.Trim();

        private void Load()
        {
            if (_loaded) return;
            _loaded = true;
            _enabled = EditorPrefs.GetBool(Prefix + "Enabled", false);
            _url = EditorPrefs.GetString(Prefix + "Url", "nats://127.0.0.1:4222");
            _user = EditorPrefs.GetString(Prefix + "User", "");
            _passwordFile = EditorPrefs.GetString(Prefix + "PasswordFile", "");
            _tokenFile = EditorPrefs.GetString(Prefix + "TokenFile", "");
            _credsFile = EditorPrefs.GetString(Prefix + "CredsFile", "");
            _nkeyFile = EditorPrefs.GetString(Prefix + "NKeyFile", "");
            _caFile = EditorPrefs.GetString(Prefix + "CaFile", "");
        }

        private static string Field(string key, string value)
        {
            if (EditorPrefs.GetString(Prefix + key, "") != value) EditorPrefs.SetString(Prefix + key, value);
            return value;
        }

        private static bool Field(string key, bool value)
        {
            if (EditorPrefs.GetBool(Prefix + key, false) != value) EditorPrefs.SetBool(Prefix + key, value);
            return value;
        }
    }
}
