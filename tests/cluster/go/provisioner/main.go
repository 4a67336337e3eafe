// A volume provisioner and resizer for the test cluster, built on the library real external
// provisioners use (sigs.k8s.io/sig-storage-lib-external-provisioner). It stands in for a CSI
// driver: no data is stored, but every volume carries the topology a real class gives it, so
// the scheduler and the PV controller behave as on a real cluster:
//
//   - zonal provisioners (cloud disks: ebs.csi.aws.com, pd.csi.storage.gke.io, ...) make volumes
//     pinned to the zone of the node the scheduler selected (topology.kubernetes.io/zone);
//   - node-local provisioners (rancher.io/local-path, ...) pin them to that node
//     (kubernetes.io/hostname);
//   - shared ones (network file systems) make volumes any node mounts.
//
// A bound claim whose request grows past its capacity is expanded as a CSI resizer would: the
// volume's capacity, then the claim's status. The API server's resize admission plugin has
// already refused growth in a class without allowVolumeExpansion.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

const (
	zoneLabel = "topology.kubernetes.io/zone"
	hostLabel = "kubernetes.io/hostname"
)

type provisioner struct {
	client kubernetes.Interface
	// provisioner name → the node label its volumes are pinned by.
	topology map[string]string
}

func (p *provisioner) Provision(ctx context.Context, o controller.ProvisionOptions) (*v1.PersistentVolume, controller.ProvisioningState, error) {
	label := p.topology[o.StorageClass.Provisioner]
	if label == "" {
		o.SelectedNodeName = ""
	}
	if o.SelectedNodeName == "" {
		// An Immediate class: a real zonal driver picks a zone; a node-local one cannot work.
		if label == hostLabel {
			return nil, controller.ProvisioningFinished, fmt.Errorf("%s volumes are node-local: the class needs volumeBindingMode WaitForFirstConsumer", o.StorageClass.Provisioner)
		}
	}
	var affinity *v1.VolumeNodeAffinity
	if o.SelectedNodeName != "" {
		node, err := p.client.CoreV1().Nodes().Get(ctx, o.SelectedNodeName, metav1.GetOptions{})
		if err != nil {
			return nil, controller.ProvisioningInBackground, err
		}
		value, ok := node.Labels[label]
		if !ok {
			return nil, controller.ProvisioningFinished, fmt.Errorf("node %s has no %s label", node.Name, label)
		}
		affinity = &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
			MatchExpressions: []v1.NodeSelectorRequirement{{Key: label, Operator: v1.NodeSelectorOpIn, Values: []string{value}}},
		}}}}
	}
	reclaim := v1.PersistentVolumeReclaimDelete
	if o.StorageClass.ReclaimPolicy != nil {
		reclaim = *o.StorageClass.ReclaimPolicy
	}
	pv := &v1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: o.PVName},
		Spec: v1.PersistentVolumeSpec{
			Capacity:                      v1.ResourceList{v1.ResourceStorage: o.PVC.Spec.Resources.Requests[v1.ResourceStorage]},
			AccessModes:                   o.PVC.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			VolumeMode:                    o.PVC.Spec.VolumeMode,
			MountOptions:                  o.StorageClass.MountOptions,
			NodeAffinity:                  affinity,
			PersistentVolumeSource: v1.PersistentVolumeSource{
				HostPath: &v1.HostPathVolumeSource{Path: "/var/lib/amctl-test/" + o.PVName},
			},
		},
	}
	return pv, controller.ProvisioningFinished, nil
}

func (p *provisioner) Delete(context.Context, *v1.PersistentVolume) error { return nil }

// resize grows a bound claim's volume and status to its request, as the CSI external-resizer
// and the kubelet's expansion would.
func resize(ctx context.Context, client kubernetes.Interface, names map[string]string, pvc *v1.PersistentVolumeClaim) error {
	want := pvc.Spec.Resources.Requests[v1.ResourceStorage]
	have := pvc.Status.Capacity[v1.ResourceStorage]
	if pvc.Status.Phase != v1.ClaimBound || pvc.Spec.VolumeName == "" || want.Cmp(have) <= 0 {
		return nil
	}
	if _, ours := names[pvc.Annotations["volume.kubernetes.io/storage-provisioner"]]; !ours {
		return nil
	}
	pv, err := client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if size := pv.Spec.Capacity[v1.ResourceStorage]; size.Cmp(want) < 0 {
		pv.Spec.Capacity[v1.ResourceStorage] = want
		if _, err := client.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	pvc = pvc.DeepCopy()
	pvc.Status.Capacity = v1.ResourceList{v1.ResourceStorage: want}
	pvc.Status.AllocatedResources = v1.ResourceList{v1.ResourceStorage: want}
	pvc.Status.AllocatedResourceStatuses = nil
	pvc.Status.Conditions = nil
	_, err = client.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx, pvc, metav1.UpdateOptions{})
	return err
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	zonal := flag.String("zonal", "", "comma-separated provisioner names whose volumes are pinned to a zone")
	local := flag.String("node-local", "", "comma-separated provisioner names whose volumes are pinned to a node")
	shared := flag.String("shared", "", "comma-separated provisioner names whose volumes any node mounts")
	flag.Parse()
	names := map[string]string{}
	for _, n := range strings.Split(*zonal, ",") {
		if n != "" {
			names[n] = zoneLabel
		}
	}
	for _, n := range strings.Split(*local, ",") {
		if n != "" {
			names[n] = hostLabel
		}
	}
	for _, n := range strings.Split(*shared, ",") {
		if n != "" {
			names[n] = ""
		}
	}
	if len(names) == 0 {
		fmt.Fprintln(os.Stderr, "provisioner: name at least one provisioner with --zonal, --node-local or --shared")
		os.Exit(2)
	}
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "provisioner:", err)
		os.Exit(2)
	}
	config.QPS, config.Burst = 100, 200
	client := kubernetes.NewForConfigOrDie(config)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	p := &provisioner{client: client, topology: names}
	for name := range names {
		c := controller.NewProvisionController(ctx, client, name, p,
			controller.LeaderElection(false),
			controller.Threadiness(4),
			controller.ExponentialBackOffOnError(false),
			controller.FailedProvisionThreshold(0),
			controller.ResyncPeriod(30*time.Second),
		)
		go c.Run(ctx)
	}

	factory := informers.NewSharedInformerFactory(client, 30*time.Second)
	claims := factory.Core().V1().PersistentVolumeClaims().Informer()
	handle := func(obj interface{}) {
		pvc, ok := obj.(*v1.PersistentVolumeClaim)
		if !ok {
			return
		}
		for attempt := 0; attempt < 5; attempt++ {
			err := resize(ctx, client, names, pvc)
			if err == nil || errors.Is(err, context.Canceled) {
				return
			}
			klog.Errorf("resize %s/%s: %v", pvc.Namespace, pvc.Name, err)
			time.Sleep(time.Second)
			latest, getErr := client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Get(ctx, pvc.Name, metav1.GetOptions{})
			if getErr != nil {
				return
			}
			pvc = latest
		}
	}
	_, _ = claims.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    handle,
		UpdateFunc: func(_, obj interface{}) { handle(obj) },
	})
	factory.Start(ctx.Done())
	<-ctx.Done()
}
