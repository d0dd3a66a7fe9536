"""Every GuardDuty finding type ircli knows, by the family of resource it concerns.

Source: Amazon GuardDuty User Guide, "GuardDuty finding types" (the table of active finding
types, https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-active.html)
and its per-resource pages (EC2, IAM, S3 Protection, EKS Protection, Runtime Monitoring,
Malware Protection, RDS Protection, Lambda Protection, attack sequences). Retired types are
left out. ``ircli runbook coverage`` lists each with the runbook that answers it, or the
reason in :data:`UNANSWERED` that none does; a test keeps that list complete.
"""

from __future__ import annotations

SOURCE = ("Amazon GuardDuty User Guide, \"GuardDuty finding types\" (active finding types), "
          "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-active.html")

_EC2 = """
Backdoor:EC2/C&CActivity.B
Backdoor:EC2/C&CActivity.B!DNS
Backdoor:EC2/DenialOfService.Dns
Backdoor:EC2/DenialOfService.Tcp
Backdoor:EC2/DenialOfService.Udp
Backdoor:EC2/DenialOfService.UdpOnTcpPorts
Backdoor:EC2/DenialOfService.UnusualProtocol
Backdoor:EC2/Spambot
Behavior:EC2/NetworkPortUnusual
Behavior:EC2/TrafficVolumeUnusual
CryptoCurrency:EC2/BitcoinTool.B
CryptoCurrency:EC2/BitcoinTool.B!DNS
DefenseEvasion:EC2/UnusualDNSResolver
DefenseEvasion:EC2/UnusualDoHActivity
DefenseEvasion:EC2/UnusualDoTActivity
Impact:EC2/AbusedDomainRequest.Reputation
Impact:EC2/BitcoinDomainRequest.Reputation
Impact:EC2/MaliciousDomainRequest.Custom
Impact:EC2/MaliciousDomainRequest.Reputation
Impact:EC2/PortSweep
Impact:EC2/SuspiciousDomainRequest.Reputation
Impact:EC2/WinRMBruteForce
Recon:EC2/PortProbeEMRUnprotectedPort
Recon:EC2/PortProbeUnprotectedPort
Recon:EC2/Portscan
Trojan:EC2/BlackholeTraffic
Trojan:EC2/BlackholeTraffic!DNS
Trojan:EC2/DGADomainRequest.B
Trojan:EC2/DGADomainRequest.C!DNS
Trojan:EC2/DNSDataExfiltration
Trojan:EC2/DriveBySourceTraffic!DNS
Trojan:EC2/DropPoint
Trojan:EC2/DropPoint!DNS
Trojan:EC2/PhishingDomainRequest!DNS
UnauthorizedAccess:EC2/MaliciousIPCaller.Custom
UnauthorizedAccess:EC2/MetadataDNSRebind
UnauthorizedAccess:EC2/RDPBruteForce
UnauthorizedAccess:EC2/SSHBruteForce
UnauthorizedAccess:EC2/TorClient
UnauthorizedAccess:EC2/TorRelay
"""

_IAM = """
CredentialAccess:IAMUser/AnomalousBehavior
DefenseEvasion:IAMUser/AnomalousBehavior
DefenseEvasion:IAMUser/BedrockLoggingDisabled
Discovery:IAMUser/AnomalousBehavior
Exfiltration:IAMUser/AnomalousBehavior
Impact:IAMUser/AnomalousBehavior
InitialAccess:IAMUser/AnomalousBehavior
PenTest:IAMUser/KaliLinux
PenTest:IAMUser/ParrotLinux
PenTest:IAMUser/PentooLinux
Persistence:IAMUser/AnomalousBehavior
Policy:IAMUser/RootCredentialUsage
Policy:IAMUser/ShortTermRootCredentialUsage
PrivilegeEscalation:IAMUser/AnomalousBehavior
Recon:IAMUser/MaliciousIPCaller
Recon:IAMUser/MaliciousIPCaller.Custom
Recon:IAMUser/TorIPCaller
Stealth:IAMUser/CloudTrailLoggingDisabled
Stealth:IAMUser/PasswordPolicyChange
UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B
UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS
UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS
UnauthorizedAccess:IAMUser/MaliciousIPCaller
UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom
UnauthorizedAccess:IAMUser/TorIPCaller
"""

_S3 = """
Discovery:S3/AnomalousBehavior
Discovery:S3/MaliciousIPCaller
Discovery:S3/MaliciousIPCaller.Custom
Discovery:S3/TorIPCaller
Exfiltration:S3/AnomalousBehavior
Exfiltration:S3/MaliciousIPCaller
Impact:S3/AnomalousBehavior.Delete
Impact:S3/AnomalousBehavior.Permission
Impact:S3/AnomalousBehavior.Write
Impact:S3/MaliciousIPCaller
PenTest:S3/KaliLinux
PenTest:S3/ParrotLinux
PenTest:S3/PentooLinux
Policy:S3/AccountBlockPublicAccessDisabled
Policy:S3/BucketAnonymousAccessGranted
Policy:S3/BucketBlockPublicAccessDisabled
Policy:S3/BucketPublicAccessGranted
Stealth:S3/ServerAccessLoggingDisabled
UnauthorizedAccess:S3/MaliciousIPCaller.Custom
UnauthorizedAccess:S3/TorIPCaller
Object:S3/MaliciousFile
"""

_KUBERNETES = """
CredentialAccess:Kubernetes/AnomalousBehavior.SecretsAccessed
CredentialAccess:Kubernetes/MaliciousIPCaller
CredentialAccess:Kubernetes/MaliciousIPCaller.Custom
CredentialAccess:Kubernetes/SuccessfulAnonymousAccess
CredentialAccess:Kubernetes/TorIPCaller
DefenseEvasion:Kubernetes/MaliciousIPCaller
DefenseEvasion:Kubernetes/MaliciousIPCaller.Custom
DefenseEvasion:Kubernetes/SuccessfulAnonymousAccess
DefenseEvasion:Kubernetes/TorIPCaller
Discovery:Kubernetes/AnomalousBehavior.PermissionChecked
Discovery:Kubernetes/MaliciousIPCaller
Discovery:Kubernetes/MaliciousIPCaller.Custom
Discovery:Kubernetes/SuccessfulAnonymousAccess
Discovery:Kubernetes/TorIPCaller
Execution:Kubernetes/AnomalousBehavior.ExecInPod
Execution:Kubernetes/AnomalousBehavior.WorkloadDeployed
Execution:Kubernetes/ExecInKubeSystemPod
Impact:Kubernetes/MaliciousIPCaller
Impact:Kubernetes/MaliciousIPCaller.Custom
Impact:Kubernetes/SuccessfulAnonymousAccess
Impact:Kubernetes/TorIPCaller
Persistence:Kubernetes/AnomalousBehavior.WorkloadDeployed!ContainerWithSensitiveMount
Persistence:Kubernetes/ContainerWithSensitiveMount
Persistence:Kubernetes/MaliciousIPCaller
Persistence:Kubernetes/MaliciousIPCaller.Custom
Persistence:Kubernetes/SuccessfulAnonymousAccess
Persistence:Kubernetes/TorIPCaller
Policy:Kubernetes/AdminAccessToDefaultServiceAccount
Policy:Kubernetes/AnonymousAccessGranted
Policy:Kubernetes/ExposedDashboard
Policy:Kubernetes/KubeflowDashboardExposed
PrivilegeEscalation:Kubernetes/AnomalousBehavior.RoleBindingCreated
PrivilegeEscalation:Kubernetes/AnomalousBehavior.RoleCreated
PrivilegeEscalation:Kubernetes/AnomalousBehavior.WorkloadDeployed!PrivilegedContainer
PrivilegeEscalation:Kubernetes/PrivilegedContainer
"""

_RUNTIME = """
Backdoor:Runtime/C&CActivity.B
Backdoor:Runtime/C&CActivity.B!DNS
CredentialAccess:Runtime/MemoryDumpCreated
CryptoCurrency:Runtime/BitcoinTool.B
CryptoCurrency:Runtime/BitcoinTool.B!DNS
DefenseEvasion:Runtime/FilelessExecution
DefenseEvasion:Runtime/KernelModuleLoaded
DefenseEvasion:Runtime/ProcessInjection.Proc
DefenseEvasion:Runtime/ProcessInjection.Ptrace
DefenseEvasion:Runtime/ProcessInjection.VirtualMemoryWrite
DefenseEvasion:Runtime/PtraceAntiDebugging
DefenseEvasion:Runtime/SuspiciousCommand
Discovery:Runtime/SuspiciousCommand
Execution:Runtime/MaliciousFileExecuted
Execution:Runtime/NewBinaryExecuted
Execution:Runtime/NewLibraryLoaded
Execution:Runtime/ReverseShell
Execution:Runtime/SuspiciousCommand
Execution:Runtime/SuspiciousShellCreated
Execution:Runtime/SuspiciousTool
Impact:Runtime/AbusedDomainRequest.Reputation
Impact:Runtime/BitcoinDomainRequest.Reputation
Impact:Runtime/CryptoMinerExecuted
Impact:Runtime/MaliciousDomainRequest.Reputation
Impact:Runtime/SuspiciousDomainRequest.Reputation
Persistence:Runtime/SuspiciousCommand
PrivilegeEscalation:Runtime/CGroupsReleaseAgentModified
PrivilegeEscalation:Runtime/ContainerMountsHostDirectory
PrivilegeEscalation:Runtime/DockerSocketAccessed
PrivilegeEscalation:Runtime/ElevationToRoot
PrivilegeEscalation:Runtime/RuncContainerEscape
PrivilegeEscalation:Runtime/SuspiciousCommand
PrivilegeEscalation:Runtime/UserfaultfdUsage
Trojan:Runtime/BlackholeTraffic
Trojan:Runtime/BlackholeTraffic!DNS
Trojan:Runtime/DGADomainRequest.C!DNS
Trojan:Runtime/DriveBySourceTraffic!DNS
Trojan:Runtime/DropPoint
Trojan:Runtime/DropPoint!DNS
Trojan:Runtime/PhishingDomainRequest!DNS
UnauthorizedAccess:Runtime/MetadataDNSRebind
UnauthorizedAccess:Runtime/TorClient
UnauthorizedAccess:Runtime/TorRelay
"""

_MALWARE = """
Execution:EC2/MaliciousFile
Execution:EC2/SuspiciousFile
Execution:ECS/MaliciousFile
Execution:ECS/SuspiciousFile
Execution:Kubernetes/MaliciousFile
Execution:Kubernetes/SuspiciousFile
Execution:Container/MaliciousFile
Execution:Container/SuspiciousFile
Execution:EC2/MaliciousFile!Snapshot
Execution:EC2/MaliciousFile!AMI
Execution:EC2/MaliciousFile!RecoveryPoint
Execution:S3/MaliciousFile!RecoveryPoint
"""

_RDS = """
CredentialAccess:RDS/AnomalousBehavior.FailedLogin
CredentialAccess:RDS/AnomalousBehavior.SuccessfulBruteForce
CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin
CredentialAccess:RDS/MaliciousIPCaller.FailedLogin
CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin
CredentialAccess:RDS/TorIPCaller.FailedLogin
CredentialAccess:RDS/TorIPCaller.SuccessfulLogin
Discovery:RDS/MaliciousIPCaller
Discovery:RDS/TorIPCaller
"""

_LAMBDA = """
Backdoor:Lambda/C&CActivity.B
CryptoCurrency:Lambda/BitcoinTool.B
Trojan:Lambda/BlackholeTraffic
Trojan:Lambda/DropPoint
UnauthorizedAccess:Lambda/MaliciousIPCaller.Custom
UnauthorizedAccess:Lambda/TorClient
UnauthorizedAccess:Lambda/TorRelay
"""

_ATTACK_SEQUENCE = """
AttackSequence:EC2/CompromisedInstanceGroup
AttackSequence:ECS/CompromisedCluster
AttackSequence:EKS/CompromisedCluster
AttackSequence:IAM/CompromisedCredentials
AttackSequence:S3/CompromisedData
"""

FAMILIES: dict[str, tuple[str, ...]] = {
    family: tuple(line for line in text.split() if line)
    for family, text in (("ec2", _EC2), ("iam", _IAM), ("s3", _S3), ("kubernetes", _KUBERNETES),
                         ("runtime", _RUNTIME), ("malware", _MALWARE), ("rds", _RDS),
                         ("lambda", _LAMBDA), ("attack-sequence", _ATTACK_SEQUENCE))}

FINDING_TYPES: tuple[str, ...] = tuple(t for types in FAMILIES.values() for t in types)

# Finding types GuardDuty derives from DNS queries to the Amazon-provided resolver: security
# groups never filter that traffic, so isolating the instance does not stop it.
DNS_TYPES = frozenset(t for t in FINDING_TYPES if t.endswith("!DNS") or "DomainRequest" in t
                      or t in ("Trojan:EC2/DNSDataExfiltration",
                               "Backdoor:EC2/DenialOfService.Dns"))

# Runtime findings that say the host itself (not only one container) is affected.
NODE_ESCAPE_TYPES = frozenset({
    "PrivilegeEscalation:Runtime/CGroupsReleaseAgentModified",
    "PrivilegeEscalation:Runtime/ContainerMountsHostDirectory",
    "PrivilegeEscalation:Runtime/DockerSocketAccessed",
    "PrivilegeEscalation:Runtime/RuncContainerEscape",
    "DefenseEvasion:Runtime/KernelModuleLoaded",
})

# Types no runbook answers, and why: fnmatch patterns, the first that matches gives the reason.
UNANSWERED: tuple[tuple[str, str], ...] = (
    ("Recon:EC2/PortProbe*", "an open port probed from outside is exposure, not compromise: "
     "close the port in the security group; `ircli block-ip` the source if it persists."),
    ("Policy:IAMUser/*RootCredentialUsage", "the root user cannot be denied by a policy: "
     "sign in as root, rotate its password, delete its access keys, check its MFA device."),
    ("Stealth:IAMUser/PasswordPolicyChange", "the account password policy changed: restore "
     "it (`aws iam update-account-password-policy`) and contain the caller if unexpected."),
    ("DefenseEvasion:IAMUser/BedrockLoggingDisabled", "turn Bedrock model invocation logging "
     "back on (`aws bedrock put-model-invocation-logging-configuration`) and contain the "
     "caller's credentials."),
    ("AttackSequence:*", "an attack sequence groups other findings: triage each of its "
     "signals' findings; they name the resources to contain."),
    ("Object:S3/MaliciousFile", "a malicious object in a bucket: quarantine or delete that "
     "object as your Malware Protection plan says; ircli never deletes objects."),
    ("Execution:S3/MaliciousFile!RecoveryPoint", "a malicious file in a backup recovery point: "
     "do not restore from it; ircli does not act on AWS Backup."),
    ("Policy:S3/AccountBlockPublicAccessDisabled", "the account-level public access block "
     "was turned off, no one bucket: turn it back on (`aws s3control "
     "put-public-access-block`) and contain the caller."),
    ("Execution:EC2/MaliciousFile!*", "a malicious file in a snapshot or AMI, not a running "
     "instance: stop sharing and launching from it; ircli contains instances only."),
)
