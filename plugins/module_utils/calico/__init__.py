# Copyright: secure_cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calico: resources and their validation, selectors, the policy walk, the lock-out guard, the API backend."""
