# ircli live-response collector for Windows. PowerShell 5.1 (SSM runs it as SYSTEM).
# Contract: stdout is exactly one compact JSON result line; everything else goes to files.
# Exit codes: 0 complete, 2 partial, 3 upload failed (archive kept), 4 fatal.
# It never exits with the SSM agent's reboot or reserved codes and installs nothing.
# Test hook (env): IRCLI_COLLECTOR_TEST_HANG_STEP=<section> makes that section sleep past
# its budget; the per-step budget override is the StepTimeoutSeconds document parameter.
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
$IrVersion = '1.1.0'
$Sections = @('memory', 'system', 'processes', 'process_detail', 'sockets', 'network_config', 'sessions', 'kernel', 'system_state', 'open_files', 'containers', 'temp_files', 'storage', 'filesystem', 'findings', 'keys', 'persistence', 'etc', 'packages', 'integrity', 'user_activity', 'logs')
# Parameters: the SSM agent substitutes the double-brace placeholders; UploadUrl also arrives
# as the env var SSM_UploadUrl (interpolationType ENV_VAR). Patterns exclude quotes. The URL
# carries the responder's key id and session token: it leaves this process's environment at
# once, so no step job (a child process) inherits it.
$IrUrl = $env:SSM_UploadUrl
[Environment]::SetEnvironmentVariable('SSM_UploadUrl', $null, 'Process')
if (-not $IrUrl) { $IrUrl = '{{ UploadUrl }}' }
$IrCase = '{{ CaseId }}'
$IrTimeoutText = '{{ TimeoutSeconds }}'
$IrTotalMbText = '{{ MaxTotalMB }}'
$IrFileMbText = '{{ MaxFileMB }}'
$IrMemory = '{{ IncludeMemory }}'
$IrStepTimeoutText = '{{ StepTimeoutSeconds }}'
$IrWant = '{{ Sections }}'
$Sys32 = Join-Path $env:SystemRoot 'System32'
$Utf8 = New-Object System.Text.UTF8Encoding($false)

function Write-IrFatal([string]$Message) {
    $r = [ordered]@{ status = 'fatal'; exit_code = 4; error = $Message; collector_version = $IrVersion }
    [Console]::Out.WriteLine(($r | ConvertTo-Json -Compress -Depth 3))
    if ($script:IrScratch -and (Test-Path -LiteralPath $script:IrScratch)) {
        Remove-Item -LiteralPath $script:IrScratch -Recurse -Force -ErrorAction SilentlyContinue
    }
    exit 4
}

foreach ($v in @($IrTimeoutText, $IrTotalMbText, $IrFileMbText, $IrStepTimeoutText)) {
    if ($v -notmatch '^[0-9]+$') { Write-IrFatal "numeric parameter expected, got: $v" }
}
if ($IrMemory -notmatch '^(true|false)$') { Write-IrFatal 'IncludeMemory must be true or false' }
if ($IrUrl -notmatch '^https?://') { Write-IrFatal 'UploadUrl must be an http(s) URL' }
if ($IrCase -notmatch '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$') { Write-IrFatal 'CaseId has unexpected characters' }
$IrTimeout = [int]$IrTimeoutText
$IrStepTimeout = [int]$IrStepTimeoutText
$IrStart = Get-Date
$IrReserve = [Math]::Min(600, [Math]::Max(15, [int]($IrTimeout / 5)))
$IrDeadline = $IrStart.AddSeconds($IrTimeout - $IrReserve)
$IrHardDeadline = $IrStart.AddSeconds($IrTimeout - 5)
$IrTotalCap = [int64]$IrTotalMbText * 1048576
$IrFileCap = [int64]$IrFileMbText * 1048576
$IrBase = $env:TEMP
if (-not $IrBase -or -not (Test-Path -LiteralPath $IrBase)) { $IrBase = Join-Path $env:SystemRoot 'Temp' }
$script:IrScratch = Join-Path $IrBase ('ircli-lr.' + [Guid]::NewGuid().ToString('N').Substring(0, 12))
$IrOut = Join-Path $script:IrScratch 'out'
$IrWork = Join-Path $script:IrScratch 'work'
try {
    New-Item -ItemType Directory -Path (Join-Path $IrOut 'collector') -Force -ErrorAction Stop | Out-Null
    New-Item -ItemType Directory -Path $IrWork -Force -ErrorAction Stop | Out-Null
} catch { Write-IrFatal 'cannot create scratch dir' }
$IrHost = ($env:COMPUTERNAME -replace '[^A-Za-z0-9._-]', '_')

# Helpers and sections; dot-sourced here and passed to every budgeted step job.
$IrLib = {
    $ProgressPreference = 'SilentlyContinue'
    $Sys32 = Join-Path $env:SystemRoot 'System32'
    $Utf8 = New-Object System.Text.UTF8Encoding($false)

    function Add-IrSkipped($Ctx, [string]$Reason, [int64]$Size, [string]$Path) {
        $line = $Ctx.Step + "`t" + $Reason + "`t" + $Size + "`t" + $Path
        [IO.File]::AppendAllText((Join-Path $Ctx.Work 'skipped.tsv'), $line + "`n", $Utf8)
    }
    function Limit-IrFile($Ctx, [string]$Path) {
        $f = Get-Item -LiteralPath $Path -ErrorAction SilentlyContinue
        if ($f -and $f.Length -gt $Ctx.FileCap) {
            $s = [IO.File]::Open($Path, 'Open', 'ReadWrite')
            $s.SetLength($Ctx.FileCap)
            $s.Close()
            Add-IrSkipped $Ctx 'per-file cap (truncated)' $f.Length ($Ctx.Step + '/' + $f.Name)
        }
    }
    function Save-IrCsv($Ctx, [string]$Name, [scriptblock]$Block) {
        $p = Join-Path $Ctx.Dir $Name
        try { & $Block | Export-Csv -LiteralPath $p -NoTypeInformation -Encoding UTF8 }
        catch { [IO.File]::AppendAllText($Ctx.Err, "$Name : $_`n", $Utf8) }
        Limit-IrFile $Ctx $p
    }
    function Save-IrJson($Ctx, [string]$Name, [scriptblock]$Block) {
        $p = Join-Path $Ctx.Dir $Name
        try { ConvertTo-Json -InputObject @(& $Block) -Depth 4 | Out-File -LiteralPath $p -Encoding UTF8 }
        catch { [IO.File]::AppendAllText($Ctx.Err, "$Name : $_`n", $Utf8) }
        Limit-IrFile $Ctx $p
    }
    function Save-IrNative($Ctx, [string]$Name, [string]$Exe, [string[]]$ArgList) {
        $p = Join-Path $Ctx.Dir $Name
        $exePath = Join-Path $Sys32 $Exe
        if (-not (Test-Path -LiteralPath $exePath)) {
            [IO.File]::AppendAllText($Ctx.Err, "$Exe missing`n", $Utf8)
            return
        }
        & $exePath @ArgList 2>&1 | Out-File -LiteralPath $p -Encoding UTF8 -Width 4096
        Limit-IrFile $Ctx $p
    }
    function Copy-IrFiles($Ctx, [string]$Dest, [string[]]$Paths, [switch]$Recurse) {
        $files = foreach ($root in $Paths) {
            if (Test-Path -LiteralPath $root) {
                Get-ChildItem -LiteralPath $root -Force -File -Recurse:$Recurse -ErrorAction SilentlyContinue
            }
        }
        $files = @($files | Where-Object { $_.FullName -notlike ($Ctx.Scratch + '*') } |
            Sort-Object -Property LastWriteTimeUtc -Descending)
        foreach ($f in $files) {
            if ($f.Length -gt $Ctx.FileCap) { Add-IrSkipped $Ctx 'per-file cap' $f.Length $f.FullName; continue }
            if ($f.Length -gt $Ctx.Remain) { Add-IrSkipped $Ctx 'total cap' $f.Length $f.FullName; continue }
            $rel = $f.FullName -replace '^([A-Za-z]):', '$1' -replace '^\\\\', 'UNC\'
            $target = Join-Path (Join-Path $Ctx.Dir $Dest) $rel
            New-Item -ItemType Directory -Path (Split-Path -Parent $target) -Force | Out-Null
            try {
                Copy-Item -LiteralPath $f.FullName -Destination $target -Force -ErrorAction Stop
                $Ctx.Remain -= $f.Length
            } catch { [IO.File]::AppendAllText($Ctx.Err, "copy $($f.FullName): $_`n", $Utf8) }
        }
    }
    function Get-IrUserProfiles {
        Get-CimInstance -ClassName Win32_UserProfile -ErrorAction SilentlyContinue |
            Where-Object { $_.LocalPath -and (Test-Path -LiteralPath $_.LocalPath) }
    }
    function Get-IrHash([string[]]$Paths) {
        foreach ($p in ($Paths | Where-Object { $_ } | Sort-Object -Unique)) {
            $h = Get-FileHash -LiteralPath $p -Algorithm SHA256 -ErrorAction SilentlyContinue
            $sig = Get-AuthenticodeSignature -LiteralPath $p -ErrorAction SilentlyContinue
            [pscustomobject]@{ Path = $p; SHA256 = $h.Hash; Signature = [string]$sig.Status; Signer = [string]$sig.SignerCertificate.Subject }
        }
    }

    function Step-memory($Ctx) {
        $tool = Get-ChildItem -LiteralPath (Join-Path $env:ProgramData 'ircli\tools') -Filter 'winpmem*.exe' -ErrorAction SilentlyContinue | Select-Object -First 1
        if (-not $tool) { throw 'memory: no winpmem staged under ProgramData\ircli\tools; nothing installed by design' }
        & $tool.FullName (Join-Path $Ctx.Dir 'memory.raw') 2>&1 | Out-File -LiteralPath (Join-Path $Ctx.Dir 'winpmem.log') -Encoding UTF8
    }
    function Step-system($Ctx) {
        $os = Get-CimInstance -ClassName Win32_OperatingSystem
        $t = [ordered]@{
            utc = (Get-Date).ToUniversalTime().ToString('o'); local = (Get-Date).ToString('o')
            boot_utc = $os.LastBootUpTime.ToUniversalTime().ToString('o'); timezone = (Get-TimeZone).Id
            collector_pid = $PID; host = $env:COMPUTERNAME
        }
        $t | ConvertTo-Json -Depth 3 | Out-File -LiteralPath (Join-Path $Ctx.Dir 'time.json') -Encoding UTF8
        Save-IrJson $Ctx 'os.json' { $os | Select-Object -Property * }
        Save-IrJson $Ctx 'computer.json' { Get-CimInstance -ClassName Win32_ComputerSystem | Select-Object -Property * }
        Save-IrNative $Ctx 'systeminfo.txt' 'systeminfo.exe' @()
    }
    function Step-processes($Ctx) {
        $procs = @(Get-CimInstance -ClassName Win32_Process)
        $rows = foreach ($p in $procs) {
            $o = Invoke-CimMethod -InputObject $p -MethodName GetOwner -ErrorAction SilentlyContinue
            [pscustomobject]@{
                ProcessId = $p.ProcessId; ParentProcessId = $p.ParentProcessId; Name = $p.Name
                CommandLine = $p.CommandLine; ExecutablePath = $p.ExecutablePath
                CreationDate = $p.CreationDate; SessionId = $p.SessionId
                Owner = if ($o) { "$($o.Domain)\$($o.User)" } else { '' }
            }
        }
        $rows | Export-Csv -LiteralPath (Join-Path $Ctx.Dir 'processes.csv') -NoTypeInformation -Encoding UTF8
        Save-IrCsv $Ctx 'image_hashes.csv' { Get-IrHash @($procs | ForEach-Object { $_.ExecutablePath }) }
        Save-IrNative $Ctx 'tasklist.txt' 'tasklist.exe' @('/v')
        if (-not $rows) { throw 'no processes listed' }
    }
    function Step-process_detail($Ctx) {
        $procs = @(Get-Process -ErrorAction SilentlyContinue)
        Save-IrCsv $Ctx 'modules.csv' { foreach ($p in $procs) { foreach ($m in @($p.Modules)) { if ($m) { [pscustomobject]@{ ProcessId = $p.Id; Name = $p.ProcessName; Module = $m.ModuleName; Path = $m.FileName } } } } }
        $mods = @(Import-Csv -LiteralPath (Join-Path $Ctx.Dir 'modules.csv') -ErrorAction SilentlyContinue | ForEach-Object { $_.Path } | Sort-Object -Unique | Select-Object -First 2000)
        Save-IrCsv $Ctx 'module_signatures.csv' { Get-IrHash $mods | Where-Object { $_.Signature -ne 'Valid' } }
        Save-IrCsv $Ctx 'image_missing_on_disk.csv' { Get-CimInstance -ClassName Win32_Process | Where-Object { $_.ExecutablePath -and -not (Test-Path -LiteralPath $_.ExecutablePath) } | Select-Object -Property @('ProcessId', 'Name', 'ExecutablePath', 'CommandLine') }
        Save-IrCsv $Ctx 'threads.csv' { foreach ($p in $procs) { [pscustomobject]@{ ProcessId = $p.Id; Name = $p.ProcessName; Threads = $p.Threads.Count; Handles = $p.HandleCount; StartTime = $p.StartTime } } }
    }
    function Step-sockets($Ctx) {
        Save-IrCsv $Ctx 'tcp.csv' { Get-NetTCPConnection | Select-Object -Property @('LocalAddress', 'LocalPort', 'RemoteAddress', 'RemotePort', 'State', 'OwningProcess', 'CreationTime') }
        Save-IrCsv $Ctx 'udp.csv' { Get-NetUDPEndpoint | Select-Object -Property @('LocalAddress', 'LocalPort', 'OwningProcess', 'CreationTime') }
        Save-IrNative $Ctx 'netstat.txt' 'NETSTAT.EXE' @('-anob')
    }
    function Step-network_config($Ctx) {
        Save-IrCsv $Ctx 'dns_cache.csv' { Get-DnsClientCache | Select-Object -Property @('Entry', 'Name', 'Type', 'TimeToLive', 'Data') }
        Save-IrNative $Ctx 'arp.txt' 'ARP.EXE' @('-a')
        Save-IrNative $Ctx 'route.txt' 'ROUTE.EXE' @('print')
        Save-IrNative $Ctx 'ipconfig.txt' 'ipconfig.exe' @('/all')
        Save-IrNative $Ctx 'portproxy.txt' 'netsh.exe' @('interface', 'portproxy', 'show', 'all')
        Save-IrNative $Ctx 'firewall.txt' 'netsh.exe' @('advfirewall', 'show', 'allprofiles')
        Save-IrCsv $Ctx 'firewall_profiles.csv' { Get-NetFirewallProfile }
        Save-IrCsv $Ctx 'smb_sessions.csv' { Get-SmbSession }
        Save-IrCsv $Ctx 'smb_shares.csv' { Get-SmbShare }
        Copy-IrFiles $Ctx 'files' @((Join-Path $Sys32 'drivers\etc\hosts'))
    }
    function Step-sessions($Ctx) {
        Save-IrNative $Ctx 'quser.txt' 'quser.exe' @()
        Save-IrCsv $Ctx 'logon_sessions.csv' { Get-CimInstance -ClassName Win32_LogonSession | Select-Object -Property @('LogonId', 'LogonType', 'StartTime', 'AuthenticationPackage') }
        Save-IrCsv $Ctx 'logged_on_users.csv' { Get-CimInstance -ClassName Win32_LoggedOnUser | ForEach-Object { [pscustomobject]@{ Account = [string]$_.Antecedent; Session = [string]$_.Dependent } } }
        Save-IrCsv $Ctx 'local_users.csv' { Get-LocalUser | Select-Object -Property @('Name', 'Enabled', 'LastLogon', 'PasswordLastSet', 'SID') }
        Save-IrCsv $Ctx 'administrators.csv' { Get-LocalGroupMember -SID 'S-1-5-32-544' | Select-Object -Property @('Name', 'ObjectClass', 'PrincipalSource', 'SID') }
    }
    function Step-kernel($Ctx) {
        $drivers = @(Get-CimInstance -ClassName Win32_SystemDriver)
        $drivers | Select-Object -Property @('Name', 'DisplayName', 'PathName', 'State', 'StartMode', 'ServiceType') |
            Export-Csv -LiteralPath (Join-Path $Ctx.Dir 'drivers.csv') -NoTypeInformation -Encoding UTF8
        Save-IrCsv $Ctx 'driver_hashes.csv' { Get-IrHash @($drivers | ForEach-Object { $_.PathName -replace '^\\\?\?\\', '' -replace '^\\SystemRoot', $env:SystemRoot }) }
        Save-IrJson $Ctx 'defender_status.json' { Get-MpComputerStatus }
        Save-IrJson $Ctx 'defender_detections.json' { Get-MpThreatDetection }
        Save-IrJson $Ctx 'defender_exclusions.json' { Get-MpPreference | Select-Object -Property @('ExclusionPath', 'ExclusionProcess', 'ExclusionExtension', 'ExclusionIpAddress') }
        Save-IrNative $Ctx 'bcdedit.txt' 'bcdedit.exe' @('/enum')
    }
    function Step-system_state($Ctx) {
        Save-IrNative $Ctx 'auditpol.txt' 'auditpol.exe' @('/get', '/category:*')
        Save-IrJson $Ctx 'device_guard.json' { Get-CimInstance -Namespace 'root/Microsoft/Windows/DeviceGuard' -ClassName Win32_DeviceGuard }
        Save-IrJson $Ctx 'secure_boot.json' { [pscustomobject]@{ SecureBoot = (Confirm-SecureBootUEFI -ErrorAction SilentlyContinue) } }
        Save-IrCsv $Ctx 'shadow_copies.csv' { Get-CimInstance -ClassName Win32_ShadowCopy | Select-Object -Property @('ID', 'InstallDate', 'VolumeName', 'DeviceObject') }
        Save-IrJson $Ctx 'lsa.json' { Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Lsa' }
        Save-IrCsv $Ctx 'services_state.csv' { Get-CimInstance -ClassName Win32_Service | Select-Object -Property @('Name', 'State', 'StartMode', 'ProcessId', 'StartName', 'PathName') }
        Save-IrCsv $Ctx 'service_signatures.csv' { Get-IrHash @(Get-CimInstance -ClassName Win32_Service | ForEach-Object { if ($_.PathName -match '^"([^"]+)"') { $Matches[1] } elseif ($_.PathName) { ($_.PathName -split ' ')[0] } }) }
        Save-IrJson $Ctx 'defender_preferences.json' { Get-MpPreference }
    }
    function Step-open_files($Ctx) {
        Save-IrCsv $Ctx 'named_pipes.csv' { [IO.Directory]::GetFiles('\\.\pipe\') | ForEach-Object { [pscustomobject]@{ Pipe = $_ } } }
        Save-IrCsv $Ctx 'smb_open_files.csv' { Get-SmbOpenFile }
    }
    function Step-containers($Ctx) {
        $docker = Join-Path $env:ProgramFiles 'Docker\docker.exe'
        if (Test-Path -LiteralPath $docker) {
            & $docker ps -a --no-trunc 2>&1 | Out-File -LiteralPath (Join-Path $Ctx.Dir 'docker_ps.txt') -Encoding UTF8
        }
        Save-IrCsv $Ctx 'hyperv_vms.csv' { if (Get-Command -Name Get-VM -ErrorAction SilentlyContinue) { Get-VM } }
    }
    function Step-storage($Ctx) {
        Save-IrCsv $Ctx 'volumes.csv' { Get-Volume | Select-Object -Property @('DriveLetter', 'FileSystemLabel', 'FileSystem', 'Size', 'SizeRemaining', 'HealthStatus') }
        Save-IrCsv $Ctx 'disks.csv' { Get-Disk | Select-Object -Property @('Number', 'FriendlyName', 'SerialNumber', 'Size', 'PartitionStyle', 'OperationalStatus') }
        Save-IrCsv $Ctx 'partitions.csv' { Get-Partition | Select-Object -Property @('DiskNumber', 'PartitionNumber', 'DriveLetter', 'Size', 'Type') }
        Save-IrCsv $Ctx 'smb_mappings.csv' { Get-SmbMapping }
        Save-IrNative $Ctx 'bitlocker.txt' 'manage-bde.exe' @('-status')
        Save-IrCsv $Ctx 'firewall_rules.csv' { Get-NetFirewallRule -Enabled True | Select-Object -Property @('Name', 'DisplayName', 'Direction', 'Action', 'Profile') }
    }
    function Step-temp_files($Ctx) {
        $temps = @((Join-Path $env:SystemRoot 'Temp')) + @(Get-IrUserProfiles | ForEach-Object { Join-Path $_.LocalPath 'AppData\Local\Temp' })
        Save-IrCsv $Ctx 'listing.csv' { foreach ($t in $temps) { Get-ChildItem -LiteralPath $t -Force -Recurse -ErrorAction SilentlyContinue | Select-Object -Property @('FullName', 'Length', 'CreationTimeUtc', 'LastWriteTimeUtc', 'LastAccessTimeUtc', 'Attributes') } }
        Copy-IrFiles $Ctx 'files' $temps -Recurse
    }
    function Step-filesystem($Ctx) {
        $roots = @((Join-Path $env:SystemDrive '\Users'), $env:ProgramData, (Join-Path $env:SystemRoot 'Temp'), (Join-Path $env:SystemRoot 'Tasks'), $Sys32)
        Save-IrCsv $Ctx 'timeline.csv' { foreach ($r in $roots) { Get-ChildItem -LiteralPath $r -Force -Recurse -ErrorAction SilentlyContinue | Where-Object { $_.FullName -notlike ($Ctx.Scratch + '*') } | Select-Object -Property @('FullName', 'Length', 'CreationTimeUtc', 'LastWriteTimeUtc', 'LastAccessTimeUtc', 'Attributes') } }
        $exe = foreach ($r in @($roots[0], $roots[1], $roots[2])) { Get-ChildItem -LiteralPath $r -Force -Recurse -File -Include @('*.exe', '*.dll', '*.ps1', '*.bat', '*.vbs', '*.js', '*.hta') -ErrorAction SilentlyContinue | Where-Object { $_.Length -le $Ctx.FileCap } | ForEach-Object { $_.FullName } }
        Save-IrCsv $Ctx 'executables_sha256.csv' { Get-IrHash @($exe) }
    }
    function Step-findings($Ctx) {
        $roots = @($Sys32, $env:ProgramData, (Join-Path $env:SystemRoot 'Temp'), (Join-Path $env:SystemDrive '\Users\Public'))
        Save-IrCsv $Ctx 'hidden.csv' { foreach ($r in $roots) { Get-ChildItem -LiteralPath $r -Force -Recurse -ErrorAction SilentlyContinue | Where-Object { $_.Attributes -band [IO.FileAttributes]::Hidden } | Select-Object -Property @('FullName', 'Length', 'LastWriteTimeUtc', 'Attributes') } }
        Save-IrCsv $Ctx 'alternate_streams.csv' { foreach ($r in @($env:ProgramData, (Join-Path $env:SystemRoot 'Temp'), (Join-Path $env:SystemDrive '\Users'))) { Get-ChildItem -LiteralPath $r -Force -Recurse -File -ErrorAction SilentlyContinue | Select-Object -First 50000 | ForEach-Object { Get-Item -LiteralPath $_.FullName -Stream * -ErrorAction SilentlyContinue | Where-Object { $_.Stream -ne ':$DATA' -and $_.Stream -ne 'Zone.Identifier' } | Select-Object -Property @('FileName', 'Stream', 'Length') } } }
        Save-IrCsv $Ctx 'system32_unsigned.csv' { Get-IrHash @(Get-ChildItem -LiteralPath $Sys32 -File -Filter '*.exe' -ErrorAction SilentlyContinue | ForEach-Object { $_.FullName }) | Where-Object { $_.Signature -ne 'Valid' } }
    }
    function Step-keys($Ctx) {
        $kg = Join-Path $Sys32 'OpenSSH\ssh-keygen.exe'
        $dirs = @((Join-Path $env:ProgramData 'ssh')) + @(Get-IrUserProfiles | ForEach-Object { Join-Path $_.LocalPath '.ssh' })
        $rows = foreach ($d in $dirs) {
            foreach ($f in @(Get-ChildItem -LiteralPath $d -Force -File -ErrorAction SilentlyContinue | Where-Object { $_.Length -lt 32768 })) {
                $head = Get-Content -LiteralPath $f.FullName -TotalCount 1 -ErrorAction SilentlyContinue
                if ($head -notmatch 'PRIVATE KEY') { continue }
                $pass = 'unknown'
                $fp = ''
                if (Test-Path -LiteralPath $kg) {
                    # Windows PowerShell 5.1 drops a bare '' argument: '""' reaches ssh-keygen as empty.
                    & $kg -y -P '""' -f $f.FullName 2>$null | Out-Null
                    if ($LASTEXITCODE -eq 0) { $pass = 'none' } else { $pass = 'set' }
                    $fp = [string](& $kg -l -f $f.FullName 2>$null)
                }
                [pscustomobject]@{ Path = $f.FullName; Passphrase = $pass; Fingerprint = $fp; LastWriteTimeUtc = $f.LastWriteTimeUtc }
            }
        }
        $rows | Export-Csv -LiteralPath (Join-Path $Ctx.Dir 'private_keys.csv') -NoTypeInformation -Encoding UTF8
    }
    function Step-persistence($Ctx) {
        Save-IrCsv $Ctx 'services.csv' { Get-CimInstance -ClassName Win32_Service | ForEach-Object { $dll = (Get-ItemProperty -LiteralPath ('HKLM:\SYSTEM\CurrentControlSet\Services\' + $_.Name + '\Parameters') -Name ServiceDll -ErrorAction SilentlyContinue).ServiceDll; [pscustomobject]@{ Name = $_.Name; PathName = $_.PathName; StartName = $_.StartName; StartMode = $_.StartMode; State = $_.State; ServiceDll = $dll } } }
        Save-IrCsv $Ctx 'scheduled_tasks.csv' { Get-ScheduledTask | ForEach-Object { [pscustomobject]@{ Path = $_.TaskPath + $_.TaskName; State = [string]$_.State; Author = $_.Author; Actions = (($_.Actions | ForEach-Object { "$($_.Execute) $($_.Arguments)" }) -join ' | ') } } }
        Copy-IrFiles $Ctx 'tasks' @((Join-Path $Sys32 'Tasks')) -Recurse
        Save-IrJson $Ctx 'wmi_filters.json' { Get-CimInstance -Namespace 'root/subscription' -ClassName __EventFilter }
        Save-IrJson $Ctx 'wmi_consumers.json' { Get-CimInstance -Namespace 'root/subscription' -ClassName __EventConsumer }
        Save-IrJson $Ctx 'wmi_bindings.json' { Get-CimInstance -Namespace 'root/subscription' -ClassName __FilterToConsumerBinding }
        $keys = @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Run', 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\RunOnce',
            'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Run', 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon',
            'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Windows', 'HKLM:\SYSTEM\CurrentControlSet\Control\Lsa',
            'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager')
        foreach ($u in (Get-ChildItem -LiteralPath 'Registry::HKEY_USERS' -ErrorAction SilentlyContinue)) {
            $keys += ('Registry::' + $u.Name + '\Software\Microsoft\Windows\CurrentVersion\Run')
            $keys += ('Registry::' + $u.Name + '\Software\Microsoft\Windows\CurrentVersion\RunOnce')
        }
        Save-IrJson $Ctx 'autoruns.json' { foreach ($k in $keys) { $p = Get-ItemProperty -LiteralPath $k -ErrorAction SilentlyContinue; if ($p) { [pscustomobject]@{ Key = $k; Values = ($p | Select-Object -Property * -ExcludeProperty @('PSPath', 'PSParentPath', 'PSChildName', 'PSDrive', 'PSProvider')) } } } }
        Save-IrCsv $Ctx 'ifeo.csv' { Get-ChildItem -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Image File Execution Options' -ErrorAction SilentlyContinue | ForEach-Object { $d = (Get-ItemProperty -LiteralPath $_.PSPath -ErrorAction SilentlyContinue).Debugger; if ($d) { [pscustomobject]@{ Image = $_.PSChildName; Debugger = $d } } } }
        $startup = @((Join-Path $env:ProgramData 'Microsoft\Windows\Start Menu\Programs\StartUp')) + @(Get-IrUserProfiles | ForEach-Object { Join-Path $_.LocalPath 'AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup' })
        Copy-IrFiles $Ctx 'startup' $startup -Recurse
        foreach ($hive in @('SYSTEM', 'SOFTWARE')) {
            $target = Join-Path $Ctx.Dir ($hive + '.hiv')
            Save-IrNative $Ctx ('reg_save_' + $hive + '.txt') 'reg.exe' @('save', ('HKLM\' + $hive), $target, '/y')
            $f = Get-Item -LiteralPath $target -ErrorAction SilentlyContinue
            if ($f -and $f.Length -gt $Ctx.Remain) { Remove-Item -LiteralPath $target -Force; Add-IrSkipped $Ctx 'total cap' $f.Length ('HKLM\' + $hive) }
            elseif ($f) { $Ctx.Remain -= $f.Length }
        }
    }
    function Step-packages($Ctx) {
        $u = @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*', 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*')
        Save-IrCsv $Ctx 'installed.csv' { Get-ItemProperty -Path $u -ErrorAction SilentlyContinue | Select-Object -Property @('DisplayName', 'DisplayVersion', 'Publisher', 'InstallDate', 'InstallLocation') }
        Save-IrCsv $Ctx 'hotfixes.csv' { Get-HotFix | Select-Object -Property @('HotFixID', 'Description', 'InstalledOn', 'InstalledBy') }
    }
    function Step-etc($Ctx) {
        Copy-IrFiles $Ctx 'files' @((Join-Path $Sys32 'drivers\etc'), (Join-Path $Sys32 'GroupPolicy'), (Join-Path $env:ProgramData 'ssh\sshd_config'), (Join-Path $env:ProgramData 'Amazon\SSM')) -Recurse
        Save-IrJson $Ctx 'environment.json' { Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\Environment' }
    }
    function Step-integrity($Ctx) {
        Save-IrCsv $Ctx 'system32_signatures.csv' { Get-IrHash @(Get-ChildItem -LiteralPath $Sys32 -File -ErrorAction SilentlyContinue | Where-Object { $_.Extension -eq '.exe' -or $_.Extension -eq '.dll' } | Select-Object -First 4000 | ForEach-Object { $_.FullName }) }
        $site = @((Join-Path $env:ProgramFiles 'Python*\Lib\site-packages'), (Join-Path $env:ProgramData 'Anaconda*\Lib\site-packages')) + @(Get-IrUserProfiles | ForEach-Object { Join-Path $_.LocalPath 'AppData\Roaming\Python\Python*\site-packages' })
        Save-IrCsv $Ctx 'python_packages.csv' { foreach ($s in $site) { Get-ChildItem -Path $s -Directory -Filter '*.dist-info' -ErrorAction SilentlyContinue | Select-Object -Property @('FullName', 'LastWriteTimeUtc') } }
        Save-IrCsv $Ctx 'npm_global_packages.csv' { foreach ($u in @(Get-IrUserProfiles)) { Get-ChildItem -LiteralPath (Join-Path $u.LocalPath 'AppData\Roaming\npm\node_modules') -Directory -ErrorAction SilentlyContinue | Select-Object -Property @('FullName', 'LastWriteTimeUtc') } }
        Save-IrCsv $Ctx 'windows_features.csv' { Get-WindowsOptionalFeature -Online | Where-Object { $_.State -eq 'Enabled' } | Select-Object -Property @('FeatureName', 'State') }
    }
    function Step-user_activity($Ctx) {
        $hist = @(Get-IrUserProfiles | ForEach-Object { Join-Path $_.LocalPath 'AppData\Roaming\Microsoft\Windows\PowerShell\PSReadLine' })
        Copy-IrFiles $Ctx 'psreadline' $hist -Recurse
        $profiles = @($PROFILE.AllUsersAllHosts, (Join-Path $Sys32 'WindowsPowerShell\v1.0\Microsoft.PowerShell_profile.ps1'))
        Copy-IrFiles $Ctx 'ps_profiles' $profiles
        Copy-IrFiles $Ctx 'prefetch' @((Join-Path $env:SystemRoot 'Prefetch'))
        Save-IrCsv $Ctx 'prefetch_listing.csv' { Get-ChildItem -LiteralPath (Join-Path $env:SystemRoot 'Prefetch') -Force -File -ErrorAction SilentlyContinue | Select-Object -Property @('Name', 'Length', 'CreationTimeUtc', 'LastWriteTimeUtc') }
        $amcache = Join-Path $env:SystemRoot 'AppCompat\Programs\Amcache.hve'
        if (Test-Path -LiteralPath $amcache) { Save-IrNative $Ctx 'amcache_copy.txt' 'esentutl.exe' @('/y', $amcache, '/vss', '/d', (Join-Path $Ctx.Dir 'Amcache.hve')) }
        Save-IrJson $Ctx 'shimcache.json' { $v = (Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager\AppCompatCache' -Name AppCompatCache -ErrorAction SilentlyContinue).AppCompatCache; if ($v) { [pscustomobject]@{ AppCompatCacheBase64 = [Convert]::ToBase64String($v) } } }
        Save-IrCsv $Ctx 'recent.csv' { Get-IrUserProfiles | ForEach-Object { Get-ChildItem -LiteralPath (Join-Path $_.LocalPath 'AppData\Roaming\Microsoft\Windows\Recent') -Force -ErrorAction SilentlyContinue | Select-Object -Property @('FullName', 'LastWriteTimeUtc', 'CreationTimeUtc') } }
    }
    function Step-logs($Ctx) {
        $logs = @('Security', 'System', 'Application', 'Windows PowerShell', 'Microsoft-Windows-PowerShell/Operational',
            'Microsoft-Windows-Sysmon/Operational', 'Microsoft-Windows-TaskScheduler/Operational',
            'Microsoft-Windows-TerminalServices-LocalSessionManager/Operational',
            'Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational', 'Microsoft-Windows-Windows Defender/Operational')
        Save-IrCsv $Ctx 'record_counts.csv' { Get-WinEvent -ListLog $logs -ErrorAction SilentlyContinue | Select-Object -Property @('LogName', 'RecordCount', 'FileSize', 'LastWriteTime', 'IsEnabled') }
        $wev = Join-Path $Sys32 'wevtutil.exe'
        foreach ($l in $logs) {
            $target = Join-Path $Ctx.Dir (($l -replace '[\\/ ]', '_') + '.evtx')
            & $wev epl $l $target 2>&1 | Out-File -LiteralPath $Ctx.Err -Append -Encoding UTF8
            $f = Get-Item -LiteralPath $target -ErrorAction SilentlyContinue
            if ($f -and $f.Length -gt $Ctx.Remain) { Remove-Item -LiteralPath $target -Force; Add-IrSkipped $Ctx 'total cap' $f.Length $l }
            elseif ($f) { $Ctx.Remain -= $f.Length }
        }
        Copy-IrFiles $Ctx 'files' @((Join-Path $env:ProgramData 'Amazon\SSM\Logs'), (Join-Path $env:ProgramData 'Amazon\EC2Launch\log'), (Join-Path $env:ProgramData 'Amazon\EC2-Windows\Launch\Log')) -Recurse
    }
    function Invoke-IrStep($Ctx) {
        if ($Ctx.Hang -and $Ctx.Hang -eq $Ctx.Step) { Start-Sleep -Seconds ($Ctx.Budget + 60) }
        & ('Step-' + $Ctx.Step) $Ctx
    }
}
. $IrLib

$IrBudgets = @{ memory = 1800; system = 20; processes = 120; process_detail = 120; sockets = 45; network_config = 45; sessions = 30; kernel = 60; system_state = 60; open_files = 60; containers = 60; temp_files = 120; storage = 45; filesystem = 300; findings = 180; keys = 45; persistence = 120; etc = 60; packages = 60; integrity = 240; user_activity = 60; logs = 240 }
$IrShares = @{ memory = 100; temp_files = 25; logs = 25; filesystem = 25; processes = 15; persistence = 10; user_activity = 10; process_detail = 10; etc = 10 }
$IrCount = @{ ok = 0; failed = 0; timed = 0; skipped = 0 }
$IrNames = @{ failed = @(); timed = @(); skipped = @() }
$IrLog = Join-Path $IrOut 'collection.log'

function Test-IrWanted([string]$Name) {
    if ($Name -eq 'memory') { return ($IrMemory -eq 'true') }
    if ($IrWant -eq 'all') { return $true }
    return (@($IrWant -split ',') -contains $Name)
}
function Get-IrSize([string]$Path) {
    $s = (Get-ChildItem -LiteralPath $Path -Recurse -Force -File -ErrorAction SilentlyContinue | Measure-Object -Property Length -Sum).Sum
    if ($s) { return [int64]$s } else { return [int64]0 }
}
function Write-IrLog($Entry) {
    [IO.File]::AppendAllText($IrLog, (($Entry | ConvertTo-Json -Compress -Depth 3) + "`n"), $Utf8)
}
function Invoke-IrSection([string]$Name) {
    $left = [int]($IrDeadline - (Get-Date)).TotalSeconds
    $budget = $IrBudgets[$Name]
    if ($IrStepTimeout -gt 0) { $budget = $IrStepTimeout }
    $share = 5
    if ($IrShares.ContainsKey($Name)) { $share = $IrShares[$Name] }
    $remain = [Math]::Min($IrTotalCap - (Get-IrSize $IrOut), [int64]($IrTotalCap / 100 * $share))
    $why = $null
    if ($left -lt 3) { $why = 'deadline' } elseif ($remain -le 0) { $why = 'total_cap' }
    $now = (Get-Date).ToUniversalTime().ToString('o')
    if ($why) {
        $IrCount.skipped++
        $IrNames.skipped += $Name
        Write-IrLog ([ordered]@{ step = $Name; start = $now; end = $now; duration_ms = 0; exit_code = -1; timed_out = $false; budget_s = 0; bytes = 0; files = 0; skipped = $why; stderr_tail = '' })
        return
    }
    $budget = [Math]::Min($budget, $left)
    $dir = Join-Path $IrOut $Name
    New-Item -ItemType Directory -Path $dir -Force | Out-Null
    $err = Join-Path $IrWork ($Name + '.err')
    $ctx = @{ Step = $Name; Dir = $dir; Err = $err; Work = $IrWork; Scratch = $script:IrScratch; FileCap = $IrFileCap; Remain = $remain; Budget = $budget; Hang = $env:IRCLI_COLLECTOR_TEST_HANG_STEP }
    [IO.File]::WriteAllText($err, '', $Utf8)
    $t0 = Get-Date
    $job = Start-Job -InitializationScript $IrLib -ScriptBlock { param($c) Invoke-IrStep $c } -ArgumentList $ctx
    $finished = Wait-Job -Job $job -Timeout $budget
    $timedOut = $false
    $code = 0
    if (-not $finished) {
        $timedOut = $true
        $code = 124
        Stop-Job -Job $job
    }
    $jobErrors = $null
    Receive-Job -Job $job -ErrorVariable jobErrors -ErrorAction SilentlyContinue 2>$null | Out-File -LiteralPath (Join-Path $IrWork ($Name + '.out')) -Encoding UTF8
    if ($jobErrors) {
        ($jobErrors | Out-String -Width 4096) | Out-File -LiteralPath $err -Append -Encoding UTF8
        if ($job.State -eq 'Failed' -and -not $timedOut) { $code = 1 }
    }
    if ($job.State -eq 'Failed' -and -not $timedOut) { $code = 1 }
    Remove-Job -Job $job -Force
    $t1 = Get-Date
    if ($timedOut) { $IrCount.timed++; $IrNames.timed += $Name }
    elseif ($code -eq 0) { $IrCount.ok++ }
    else { $IrCount.failed++; $IrNames.failed += $Name }
    $tail = ''
    if (Test-Path -LiteralPath $err) { $tail = ((Get-Content -LiteralPath $err -Tail 5 -ErrorAction SilentlyContinue) -join "`n") }
    if ($tail.Length -gt 600) { $tail = $tail.Substring($tail.Length - 600) }
    $files = @(Get-ChildItem -LiteralPath $dir -Recurse -Force -File -ErrorAction SilentlyContinue).Count
    Write-IrLog ([ordered]@{ step = $Name; start = $t0.ToUniversalTime().ToString('o'); end = $t1.ToUniversalTime().ToString('o'); duration_ms = [int]($t1 - $t0).TotalMilliseconds; exit_code = $code; timed_out = $timedOut; budget_s = $budget; bytes = (Get-IrSize $dir); files = $files; skipped = $null; stderr_tail = $tail })
}

$startInfo = [ordered]@{ start_utc = $IrStart.ToUniversalTime().ToString('o'); collector_pid = $PID; case_id = $IrCase; host = $IrHost; version = $IrVersion; scratch = $script:IrScratch; timeout_s = $IrTimeout; sections = $IrWant; include_memory = $IrMemory; step_timeout = $IrStepTimeout; powershell = $PSVersionTable.PSVersion.ToString() }
[IO.File]::WriteAllText((Join-Path $IrOut 'collector\start.json'), ($startInfo | ConvertTo-Json -Depth 3), $Utf8)
foreach ($s in $Sections) {
    if (Test-IrWanted $s) { Invoke-IrSection $s }
}

# Package: the manifest lists every file with its sha256, then skipped ones.
[IO.File]::WriteAllText((Join-Path $IrOut 'collector\end.json'), ((@{ end_utc = (Get-Date).ToUniversalTime().ToString('o') }) | ConvertTo-Json), $Utf8)
$manifest = New-Object System.Collections.Generic.List[string]
$nFiles = 0
$prefixLength = $IrOut.Length + 1
foreach ($f in (Get-ChildItem -LiteralPath $IrOut -Recurse -Force -File | Sort-Object -Property FullName)) {
    $rel = $f.FullName.Substring($prefixLength) -replace '\\', '/'
    $step = if ($rel.Contains('/')) { $rel.Split('/')[0] } else { 'collector' }
    $h = (Get-FileHash -LiteralPath $f.FullName -Algorithm SHA256).Hash.ToLowerInvariant()
    $manifest.Add((([ordered]@{ path = $rel; size = $f.Length; mtime = $f.LastWriteTimeUtc.ToString('o'); sha256 = $h; step = $step }) | ConvertTo-Json -Compress))
    $nFiles++
}
$nSkipped = 0
$skippedFile = Join-Path $IrWork 'skipped.tsv'
if (Test-Path -LiteralPath $skippedFile) {
    foreach ($line in [IO.File]::ReadAllLines($skippedFile, $Utf8)) {
        $p = $line.Split("`t")
        if ($p.Count -lt 4) { continue }
        $manifest.Add((([ordered]@{ path = $p[3]; size = [int64]$p[2]; step = $p[0]; skipped = $p[1] }) | ConvertTo-Json -Compress))
        $nSkipped++
    }
}
[IO.File]::WriteAllLines((Join-Path $IrOut 'manifest.jsonl'), $manifest, $Utf8)
$tar = Join-Path $Sys32 'tar.exe'
$members = @('manifest.jsonl', 'collection.log') + @(Get-ChildItem -LiteralPath $IrOut -Force | Where-Object { @('manifest.jsonl', 'collection.log') -notcontains $_.Name } | ForEach-Object { $_.Name })
if (Test-Path -LiteralPath $tar) {
    $format = 'tar.gz'
    $archive = Join-Path $script:IrScratch ('ircli-' + $IrCase + '-' + $IrHost + '.tar.gz')
    & $tar -czf $archive -C $IrOut @members 2>&1 | Out-File -LiteralPath (Join-Path $IrWork 'tar.err') -Encoding UTF8
} else {
    $format = 'zip'
    $archive = Join-Path $script:IrScratch ('ircli-' + $IrCase + '-' + $IrHost + '.zip')
    Compress-Archive -LiteralPath @($members | ForEach-Object { Join-Path $IrOut $_ }) -DestinationPath $archive -CompressionLevel Optimal
}
if (-not (Test-Path -LiteralPath $archive)) { Write-IrFatal 'packaging failed' }
$sha = (Get-FileHash -LiteralPath $archive -Algorithm SHA256).Hash.ToLowerInvariant()
$md5hex = (Get-FileHash -LiteralPath $archive -Algorithm MD5).Hash.ToLowerInvariant()
$md5bytes = [byte[]]@(for ($i = 0; $i -lt 32; $i += 2) { [Convert]::ToByte($md5hex.Substring($i, 2), 16) })
$md5b64 = [Convert]::ToBase64String($md5bytes)
$size = (Get-Item -LiteralPath $archive).Length
Remove-Item -LiteralPath $IrOut -Recurse -Force -ErrorAction SilentlyContinue

# Upload through the presigned PUT URL over TLS 1.2 with Content-MD5 and If-None-Match: *
# (S3 writes the key once; the header is signed into the URL); check the ETag.
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12
$http = '000'
$uploaded = $false
$etagOk = $false
$uploadError = ''
$stream = $null
try {
    $req = [Net.HttpWebRequest]::Create($IrUrl)
    $req.Method = 'PUT'
    $req.Headers.Add('Content-MD5', $md5b64)
    $req.Headers.Add('If-None-Match', '*')
    $req.ContentLength = $size
    $req.AllowWriteStreamBuffering = $false
    $req.Timeout = [int][Math]::Max(5000, ($IrHardDeadline - (Get-Date)).TotalMilliseconds)
    $req.ReadWriteTimeout = $req.Timeout
    $stream = [IO.File]::OpenRead($archive)
    $body = $req.GetRequestStream()
    $stream.CopyTo($body)
    $body.Close()
    $resp = $req.GetResponse()
    $http = [string][int]$resp.StatusCode
    $etagOk = ([string]$resp.Headers['ETag']).Trim('"').ToLowerInvariant() -eq $md5hex
    $resp.Close()
    $uploaded = $true
} catch [Net.WebException] {
    $uploadError = $_.Exception.Message
    if ($_.Exception.Response) { $http = [string][int]$_.Exception.Response.StatusCode }
} catch {
    $uploadError = [string]$_
} finally {
    if ($stream) { $stream.Close() }
}
if ($uploaded) {
    if (($IrCount.failed + $IrCount.timed + $IrCount.skipped) -eq 0) { $status = 'complete'; $rc = 0 } else { $status = 'partial'; $rc = 2 }
} else {
    $status = 'upload_failed'
    $rc = 3
}
$kept = $null
if ($uploaded) { Remove-Item -LiteralPath $script:IrScratch -Recurse -Force -ErrorAction SilentlyContinue }
else { Remove-Item -LiteralPath $IrWork -Recurse -Force -ErrorAction SilentlyContinue; $kept = $archive }
$result = [ordered]@{
    status = $status; exit_code = $rc; case_id = $IrCase; host = $IrHost; archive_sha256 = $sha
    archive_size = $size; archive_md5 = $md5hex; format = $format; files = $nFiles; skipped_files = $nSkipped
    steps_ok = $IrCount.ok; steps_failed = $IrCount.failed; steps_timed_out = $IrCount.timed; steps_skipped = $IrCount.skipped
    failed_steps = @($IrNames.failed); timed_out_steps = @($IrNames.timed); skipped_steps = @($IrNames.skipped)
    upload_http = $http; upload_etag_ok = $etagOk; upload_error = $uploadError; archive_kept = $kept
    duration_s = [int]((Get-Date) - $IrStart).TotalSeconds; collector_version = $IrVersion
}
[Console]::Out.WriteLine(($result | ConvertTo-Json -Compress -Depth 3))
exit $rc
