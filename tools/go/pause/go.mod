// The sandbox ("pause") process of the e2e cluster's pods: containerd needs a sandbox image and none
// can be pulled here, so this one is built from these few lines.
module ray-aks/tools/pause

go 1.24.0
