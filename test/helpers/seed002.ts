// Phase 4 Step 4.1 of the seed, verbatim: reads manifests/imagenet1k_final_cleaning_manifest.csv (cwd)
// and writes the removal list and relabel map from its image_id, user_action and new_label columns.
export const SEED_STEP_4_1 = String.raw`
import pandas as pd
from pathlib import Path
import shutil

# Load final manifest
manifest = pd.read_csv('manifests/imagenet1k_final_cleaning_manifest.csv')

# Filter for images to remove
to_remove = manifest[manifest['user_action'] == 'remove']
to_relabel = manifest[manifest['user_action'] == 'relabel']

print(f"Images to remove: {len(to_remove)}")
print(f"Images to relabel: {len(to_relabel)}")

# Create cleaned dataset directory
cleaned_dir = Path('data/imagenet1k_cleaned')
cleaned_dir.mkdir(parents=True, exist_ok=True)

# Option 1: Create removal list for training script
removal_list = to_remove['image_id'].tolist()
with open('manifests/imagenet1k_removal_list.txt', 'w') as f:
    for img_id in removal_list:
        f.write(f"{img_id}\n")

# Option 2: Create relabeling mapping
relabel_map = {}
for _, row in to_relabel.iterrows():
    if pd.notna(row['new_label']):
        relabel_map[row['image_id']] = row['new_label']

import json
with open('manifests/imagenet1k_relabel_map.json', 'w') as f:
    json.dump(relabel_map, f, indent=2)

print("\nCleaning artifacts created:")
print("- imagenet1k_removal_list.txt")
print("- imagenet1k_relabel_map.json")
`;
